package ws

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendFrameHeader(t *testing.T) {
	for _, tc := range []struct {
		op     Opcode
		length int
		want   []byte
	}{
		{OpText, 0, []byte{0x81, 0}},
		{OpText, 125, []byte{0x81, 125}},
		{OpBinary, 126, []byte{0x82, 126, 0, 126}},
		{OpBinary, 0xFFFF, []byte{0x82, 126, 0xFF, 0xFF}},
		{OpText, 0x10000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{OpClose, 2, []byte{0x88, 2}},
	} {
		got := AppendFrameHeader([]byte("x"), tc.op, tc.length)
		if !bytes.Equal(got, append([]byte("x"), tc.want...)) {
			t.Errorf("op %d length %d: % x, want % x", tc.op, tc.length, got[1:], tc.want)
		}
		if FrameHeaderLen(tc.length) != len(tc.want) {
			t.Errorf("FrameHeaderLen(%d) = %d, want %d", tc.length, FrameHeaderLen(tc.length), len(tc.want))
		}
	}
}

func TestAppendLine(t *testing.T) {
	for _, tc := range []struct {
		id   uint64
		line string
		op   Opcode
	}{
		{1, "hello", OpText},
		{7332994930581504001, "κόσμε", OpText},
		{18446744073709551615, "", OpText},
		{42, "bytes \xff\xfe", OpBinary},
		{42, "half a rune \xe2\x82", OpBinary},
		{42, strings.Repeat("l", 70000), OpText},
	} {
		b := AppendLine(nil, tc.id, []byte(tc.line))
		op, payload := readServerFrame(t, b)
		if op != tc.op {
			t.Errorf("line %.20q: opcode %d, want %d", tc.line, op, tc.op)
		}
		if want := uitoa(tc.id) + ":" + tc.line; string(payload) != want {
			t.Errorf("payload %.40q, want %.40q", payload, want)
		}
	}
	line := []byte("no allocation")
	buf := make([]byte, 0, 64)
	if allocs := testing.AllocsPerRun(100, func() { buf = AppendLine(buf[:0], 1<<62, line) }); allocs != 0 {
		t.Errorf("AppendLine: %v allocations", allocs)
	}
}

func TestAppendControl(t *testing.T) {
	op, payload := readServerFrame(t, AppendClose(nil, CloseGoingAway, "server shutting down"))
	if op != OpClose || string(payload) != "\x03\xe9server shutting down" {
		t.Errorf("close: %d % x", op, payload)
	}
	// A reason too long for a control frame is cut at a rune boundary.
	_, payload = readServerFrame(t, AppendClose(nil, CloseNormal, strings.Repeat("é", 100)))
	if len(payload) > MaxControlPayload || !utf8.Valid(payload[2:]) || len(payload) < MaxControlPayload-1 {
		t.Errorf("long reason: %d bytes, valid %v", len(payload), utf8.Valid(payload[2:]))
	}
	op, payload = readServerFrame(t, AppendPing(nil, []byte("are you there")))
	if op != OpPing || string(payload) != "are you there" {
		t.Errorf("ping: %d %q", op, payload)
	}
	op, payload = readServerFrame(t, AppendPong(nil, bytes.Repeat([]byte("p"), 200)))
	if op != OpPong || len(payload) != MaxControlPayload {
		t.Errorf("pong: %d, %d bytes", op, len(payload))
	}
}

// readServerFrame decodes one unmasked, final frame that fills b.
func readServerFrame(t *testing.T, b []byte) (Opcode, []byte) {
	t.Helper()
	if len(b) < 2 || b[0]&0x80 == 0 || b[0]&0x70 != 0 || b[1]&0x80 != 0 {
		t.Fatalf("not a final unmasked frame: % x", b[:min(len(b), 2)])
	}
	n, hdr := int(b[1]&0x7F), 2
	switch n {
	case 126:
		n, hdr = int(b[2])<<8|int(b[3]), 4
	case 127:
		n, hdr = 0, 10
		for _, c := range b[2:10] {
			n = n<<8 | int(c)
		}
	}
	if hdr+n != len(b) || hdr != FrameHeaderLen(n) {
		t.Fatalf("frame of %d bytes says %d+%d", len(b), hdr, n)
	}
	return Opcode(b[0] & 0x0F), b[hdr:]
}

func uitoa(v uint64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + v%10)}, b...)
		if v /= 10; v == 0 {
			return string(b)
		}
	}
}

func TestNextLine(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"one\n", []string{"one"}},
		{"one\r\n", []string{"one"}},
		{"one\r", []string{"one"}},
		{"a\nb\r\nc", []string{"a", "b", "c"}},
		{"\n\n\r\n\r", nil},
		{"a\n\nb", []string{"a", "b"}},
		{"a\r\r\n", []string{"a\r"}},
		{"\rx", []string{"\rx"}},
		{"tab\tand \x00 bytes\xff\n", []string{"tab\tand \x00 bytes\xff"}},
	} {
		var got []string
		for line, rest, ok := NextLine([]byte(tc.msg)); ok; line, rest, ok = NextLine(rest) {
			got = append(got, string(line))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("%q: lines %q, want %q", tc.msg, got, tc.want)
		}
	}
}
