package ws

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

const testMaxMessage = 1000

// frameCase is one client stream and what the parser must make of it.
// The sections follow the Autobahn test suite's (1 framing, 2 pings,
// 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close, 9
// limits); the cases are this package's own.
type frameCase struct {
	name   string
	in     []byte
	want   []event // every message and control frame, in order
	err    error   // the error the stream ends with; nil: none
	left   int     // bytes left buffered at the end (an incomplete frame), when err is nil
	maxMsg int     // the Parser's bound; 0: testMaxMessage
}

var (
	pingFrame = func(s string) frame { return frame{op: OpPing, payload: []byte(s)} }
	pongFrame = func(s string) frame { return frame{op: OpPong, payload: []byte(s)} }
	frag      = func(op Opcode, s string) frame { return frame{op: op, payload: []byte(s), more: true} }
	cont      = func(s string) frame { return frame{op: OpContinuation, payload: []byte(s)} }
	contMore  = func(s string) frame { return frame{op: OpContinuation, payload: []byte(s), more: true} }
)

func ev(op Opcode, s string) event { return event{op: op, payload: s} }

func frameCases() []frameCase {
	long := strings.Repeat("x", testMaxMessage)
	cases := []frameCase{
		// 1: framing, every length encoding.
		{name: "1/empty text", in: stream(text("")), want: []event{ev(OpText, "")}},
		{name: "1/text 125 (7-bit length)", in: stream(text(long[:125])), want: []event{ev(OpText, long[:125])}},
		{name: "1/text 126 (16-bit length)", in: stream(text(long[:126])), want: []event{ev(OpText, long[:126])}},
		{name: "1/binary 65535 (16-bit length)", maxMsg: 1 << 20,
			in: stream(binary_(strings.Repeat("b", 0xFFFF))), want: []event{ev(OpBinary, strings.Repeat("b", 0xFFFF))}},
		{name: "1/binary 65536 (64-bit length)", maxMsg: 1 << 20,
			in: stream(binary_(strings.Repeat("b", 0x10000))), want: []event{ev(OpBinary, strings.Repeat("b", 0x10000))}},
		{name: "1/binary bytes of every value", in: stream(binary_(string(allBytes()))), want: []event{ev(OpBinary, string(allBytes()))}},
		{name: "1/two messages back to back", in: stream(text("a"), binary_("b")), want: []event{ev(OpText, "a"), ev(OpBinary, "b")}},
		{name: "1/16-bit length not minimal", in: stream(frame{op: OpText, payload: []byte("abc"), len16: true}), err: ErrLengthNotMinimal},
		{name: "1/64-bit length not minimal", in: stream(frame{op: OpText, payload: []byte("abc"), len64: true}), err: ErrLengthNotMinimal},
		{name: "1/64-bit length with top bit set", in: stream(frame{op: OpBinary, rawLen: 1 << 63}), err: ErrLengthTopBit},
		{name: "1/64-bit length all ones", in: stream(frame{op: OpBinary, rawLen: ^uint64(0)}), err: ErrLengthTopBit},
		{name: "1/unmasked text", in: stream(frame{op: OpText, payload: []byte("hi"), unmasked: true}), err: ErrUnmasked},
		{name: "1/unmasked after a good message", in: stream(text("ok"), frame{op: OpText, unmasked: true}),
			want: []event{ev(OpText, "ok")}, err: ErrUnmasked},
		{name: "1/incomplete frame stays buffered", in: stream(text("hello"))[:5], left: 5},

		// 2: pings and pongs.
		{name: "2/empty ping", in: stream(pingFrame("")), want: []event{ev(OpPing, "")}},
		{name: "2/ping with 125 bytes", in: stream(pingFrame(long[:125])), want: []event{ev(OpPing, long[:125])}},
		{name: "2/ping with binary payload", in: stream(pingFrame("\x00\xff\xfe")), want: []event{ev(OpPing, "\x00\xff\xfe")}},
		{name: "2/ping with 126 bytes", in: stream(pingFrame(long[:126])), err: ErrControlTooLong},
		{name: "2/fragmented ping", in: stream(frame{op: OpPing, payload: []byte("a"), more: true}), err: ErrControlFragmented},
		{name: "2/unsolicited pong", in: stream(pongFrame("x")), want: []event{ev(OpPong, "x")}},
		{name: "2/pong with 126 bytes", in: stream(pongFrame(long[:126])), err: ErrControlTooLong},
		{name: "2/ten pings", in: stream(pingFrame("1"), pingFrame("2"), pingFrame("3"), pingFrame("4"), pingFrame("5"),
			pingFrame("6"), pingFrame("7"), pingFrame("8"), pingFrame("9"), pingFrame("10")),
			want: []event{ev(OpPing, "1"), ev(OpPing, "2"), ev(OpPing, "3"), ev(OpPing, "4"), ev(OpPing, "5"),
				ev(OpPing, "6"), ev(OpPing, "7"), ev(OpPing, "8"), ev(OpPing, "9"), ev(OpPing, "10")}},
		{name: "2/unmasked ping", in: stream(frame{op: OpPing, unmasked: true}), err: ErrUnmasked},

		// 3: reserved bits.
		{name: "3/RSV1 on text", in: stream(frame{op: OpText, payload: []byte("a"), rsv: 0x40}), err: ErrReservedBits},
		{name: "3/RSV2 on text after a good one", in: stream(text("a"), frame{op: OpText, rsv: 0x20}),
			want: []event{ev(OpText, "a")}, err: ErrReservedBits},
		{name: "3/RSV3 on binary", in: stream(frame{op: OpBinary, rsv: 0x10}), err: ErrReservedBits},
		{name: "3/RSV1+3 on ping", in: stream(frame{op: OpPing, rsv: 0x50}), err: ErrReservedBits},
		{name: "3/all RSV on close", in: stream(frame{op: OpClose, rsv: 0x70}), err: ErrReservedBits},
		{name: "3/RSV on a continuation", in: stream(frag(OpText, "a"), frame{op: OpContinuation, rsv: 0x40}), err: ErrReservedBits},
	}

	// 4: reserved opcodes, alone and after a good message.
	for _, op := range []Opcode{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cases = append(cases,
			frameCase{name: "4/opcode " + string("0123456789ABCDEF"[op]), in: stream(frame{op: op}), err: ErrBadOpcode},
			frameCase{name: "4/opcode " + string("0123456789ABCDEF"[op]) + " with payload after a ping",
				in: stream(pingFrame("p"), frame{op: op, payload: []byte("x")}), want: []event{ev(OpPing, "p")}, err: ErrBadOpcode})
	}

	cases = append(cases, []frameCase{
		// 5: fragmentation.
		{name: "5/text in two fragments", in: stream(frag(OpText, "hel"), cont("lo")), want: []event{ev(OpText, "hello")}},
		{name: "5/binary in three fragments", in: stream(frag(OpBinary, "a"), contMore("b"), cont("c")), want: []event{ev(OpBinary, "abc")}},
		{name: "5/ping between fragments", in: stream(frag(OpText, "a"), pingFrame("p"), contMore("b"), pongFrame("q"), cont("c")),
			want: []event{ev(OpPing, "p"), ev(OpPong, "q"), ev(OpText, "abc")}},
		{name: "5/empty first fragment", in: stream(frag(OpText, ""), cont("x")), want: []event{ev(OpText, "x")}},
		{name: "5/empty last fragment", in: stream(frag(OpText, "x"), cont("")), want: []event{ev(OpText, "x")}},
		{name: "5/all fragments empty", in: stream(frag(OpBinary, ""), contMore(""), cont("")), want: []event{ev(OpBinary, "")}},
		{name: "5/many one-byte fragments", in: stream(manyFragments("fragmented one byte at a time")...),
			want: []event{ev(OpText, "fragmented one byte at a time")}},
		{name: "5/two fragmented messages in a row", in: stream(frag(OpText, "a"), cont("b"), frag(OpBinary, "c"), cont("d")),
			want: []event{ev(OpText, "ab"), ev(OpBinary, "cd")}},
		{name: "5/continuation with nothing to continue", in: stream(cont("x")), err: ErrUnexpectedContinuation},
		{name: "5/fragmented continuation with nothing to continue", in: stream(contMore("x")), err: ErrUnexpectedContinuation},
		{name: "5/continuation after a whole message", in: stream(text("a"), cont("b")), want: []event{ev(OpText, "a")}, err: ErrUnexpectedContinuation},
		{name: "5/continuation after a finished fragmented one", in: stream(frag(OpText, "a"), cont("b"), cont("c")),
			want: []event{ev(OpText, "ab")}, err: ErrUnexpectedContinuation},
		{name: "5/text inside a fragmented message", in: stream(frag(OpText, "a"), text("b")), err: ErrExpectedContinuation},
		{name: "5/binary fragment inside a fragmented message", in: stream(frag(OpText, "a"), frag(OpBinary, "b")), err: ErrExpectedContinuation},
		{name: "5/close inside a fragmented message", in: stream(frag(OpText, "a"), closeFrame(CloseNormal, "")),
			want: []event{{op: OpClose, code: CloseNormal}}},

		// 6: UTF-8.
		{name: "6/valid multi-byte text", in: stream(text("κόσμε ✓ 𝄞")), want: []event{ev(OpText, "κόσμε ✓ 𝄞")}},
		{name: "6/invalid UTF-8 in binary is fine", in: stream(binary_("\xff\xfe")), want: []event{ev(OpBinary, "\xff\xfe")}},
		{name: "6/lone continuation byte", in: stream(text("a\x80b")), err: ErrInvalidUTF8},
		{name: "6/overlong 2-byte NUL", in: stream(text("\xc0\x80")), err: ErrInvalidUTF8},
		{name: "6/overlong 3-byte", in: stream(text("\xe0\x80\xaf")), err: ErrInvalidUTF8},
		{name: "6/overlong 4-byte", in: stream(text("\xf0\x80\x80\xaf")), err: ErrInvalidUTF8},
		{name: "6/surrogate U+D800", in: stream(text("\xed\xa0\x80")), err: ErrInvalidUTF8},
		{name: "6/past U+10FFFF", in: stream(text("\xf4\x90\x80\x80")), err: ErrInvalidUTF8},
		{name: "6/byte F5", in: stream(text("\xf5\x80\x80\x80")), err: ErrInvalidUTF8},
		{name: "6/byte FF", in: stream(text("ok\xff")), err: ErrInvalidUTF8},
		{name: "6/truncated sequence at the end", in: stream(text("\xe2\x82")), err: ErrInvalidUTF8},
		{name: "6/rune split across fragments", in: stream(frag(OpText, "\xe2"), contMore("\x82"), cont("\xac")), want: []event{ev(OpText, "€")}},
		{name: "6/4-byte rune split at every byte", in: stream(frag(OpText, "\xf0"), contMore("\x9d"), contMore("\x84"), cont("\x9e")),
			want: []event{ev(OpText, "𝄞")}},
		{name: "6/fragmented message ending inside a rune", in: stream(frag(OpText, "a"), cont("\xe2\x82")), err: ErrInvalidUTF8},
		// Fail fast: the fragment that makes the message invalid is refused
		// at once, before the message's last fragment is sent.
		{name: "6/invalid in a middle fragment, fail fast", in: stream(frag(OpText, "κό"), contMore("σμε\xed\xa0\x80")), err: ErrInvalidUTF8},
		{name: "6/surrogate split across fragments, fail fast", in: stream(frag(OpText, "ok \xed"), contMore("\xa0\x80")), err: ErrInvalidUTF8},
		{name: "6/invalid lead byte in the first fragment, fail fast", in: stream(frag(OpText, "\xc1")), err: ErrInvalidUTF8},
		{name: "6/binary fragments need not be UTF-8", in: stream(frag(OpBinary, "\xe2"), cont("\xff")), want: []event{ev(OpBinary, "\xe2\xff")}},

		// 7: close.
		{name: "7/close without payload", in: stream(frame{op: OpClose}), want: []event{{op: OpClose, code: CloseNoStatus}}},
		{name: "7/close 1000 with a reason", in: stream(closeFrame(CloseNormal, "bye ✓")), want: []event{{op: OpClose, code: CloseNormal, payload: "bye ✓"}}},
		{name: "7/close with 123-byte reason", in: stream(closeFrame(CloseGoingAway, long[:123])), want: []event{{op: OpClose, code: CloseGoingAway, payload: long[:123]}}},
		{name: "7/close with 1-byte payload", in: stream(frame{op: OpClose, payload: []byte{3}}), err: ErrBadClosePayload},
		{name: "7/close payload of 126 bytes", in: stream(closeFrame(CloseNormal, long[:124])), err: ErrControlTooLong},
		{name: "7/close reason not UTF-8", in: stream(closeFrame(CloseNormal, "\xce\xba\xe1\xbd")), err: ErrCloseReasonUTF8},
		{name: "7/fragmented close", in: stream(frame{op: OpClose, more: true}), err: ErrControlFragmented},
		{name: "7/frame after close", in: stream(closeFrame(CloseNormal, ""), text("late")), want: []event{{op: OpClose, code: CloseNormal}}, err: ErrFrameAfterClose},

		// 9: limits.
		{name: "9/message of exactly the bound", in: stream(text(long)), want: []event{ev(OpText, long)}},
		{name: "9/fragments summing to the bound", in: stream(frag(OpText, long[:400]), contMore(long[:400]), cont(long[:200])), want: []event{ev(OpText, long)}},
		{name: "9/one byte past the bound", in: stream(text(long + "y")), err: ErrMessageTooBig},
		{name: "9/huge 64-bit length", in: stream(frame{op: OpBinary, rawLen: 1 << 62}), err: ErrMessageTooBig},
		{name: "9/bound of 0 takes empty messages only", maxMsg: -1, in: stream(text(""), text("a")), want: []event{ev(OpText, "")}, err: ErrMessageTooBig},
		{name: "9/ping does not count toward a message's bound", in: stream(frag(OpText, long[:900]), pingFrame(long[:125]), cont(long[:100])),
			want: []event{ev(OpPing, long[:125]), ev(OpText, long)}},
	}...)

	// Refused from the header alone: the payload is never sent. A parser
	// that waited for it would need more instead of failing.
	headerOnly := func(f frame) []byte {
		b := f.bytes()
		return b[:len(b)-len(f.payload)]
	}
	cases = append(cases,
		frameCase{name: "9/a frame past the bound, refused from its header", in: headerOnly(binary_(long + long)), err: ErrMessageTooBig},
		frameCase{name: "9/fragmented message past the bound, refused at the fragment that passes it",
			in:   append(stream(frag(OpText, long[:600]), pingFrame("")), headerOnly(contMore(long[:401]))...),
			want: []event{ev(OpPing, "")}, err: ErrMessageTooBig},
		frameCase{name: "9/fragmented message past the bound by its last fragment",
			in:  append(stream(frag(OpBinary, long), contMore("")), headerOnly(cont("z"))...),
			err: ErrMessageTooBig},
	)
	return cases
}

func manyFragments(s string) []frame {
	var fs []frame
	for i := range len(s) {
		f := frame{op: OpContinuation, payload: []byte{s[i]}, more: i < len(s)-1}
		if i == 0 {
			f.op = OpText
		}
		fs = append(fs, f)
	}
	return fs
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestParserCases runs every case with its bytes arriving whole, byte by
// byte and in random chunks: the results must not depend on how the
// network cut the stream.
func TestParserCases(t *testing.T) {
	for _, tc := range frameCases() {
		t.Run(tc.name, func(t *testing.T) {
			bytewise := chunker(byteByByte)
			if len(tc.in) > 4096 {
				bytewise = byteByByteThenKiB()
			}
			for _, how := range []struct {
				name string
				next chunker
			}{
				{"whole", whole},
				{"byte by byte", bytewise},
				{"random chunks", randomChunks(rand.New(rand.NewPCG(1, uint64(len(tc.in)))))},
			} {
				maxMsg := tc.maxMsg
				switch maxMsg {
				case 0:
					maxMsg = testMaxMessage
				case -1:
					maxMsg = 0
				}
				p := NewParser(maxMsg)
				got, err, left := drive(t, &p, tc.in, how.next)
				if !errors.Is(err, tc.err) {
					t.Errorf("%s: error %v, want %v", how.name, err, tc.err)
				}
				if !equalEvents(got, tc.want) {
					t.Errorf("%s: events\n got %v\nwant %v", how.name, got, tc.want)
				}
				if tc.err == nil && left != tc.left {
					t.Errorf("%s: %d bytes left buffered, want %d", how.name, left, tc.left)
				}
				p.Release()
			}
		})
	}
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestParserCloseErrorsCarryCodes pins the close code of each error.
func TestParserCloseErrorsCarryCodes(t *testing.T) {
	for _, tc := range []struct {
		err  *CloseError
		code StatusCode
	}{
		{ErrUnmasked, CloseProtocolError},
		{ErrLengthTopBit, CloseProtocolError},
		{ErrControlTooLong, CloseProtocolError},
		{ErrBadCloseCode, CloseProtocolError},
		{ErrCloseReasonUTF8, CloseProtocolError},
		{ErrInvalidUTF8, CloseInvalidPayload},
		{ErrMessageTooBig, CloseMessageTooBig},
	} {
		if tc.err.Code != tc.code {
			t.Errorf("%v: code %d, want %d", tc.err, tc.err.Code, tc.code)
		}
		if len(tc.err.Reason) > MaxControlPayload-2 {
			t.Errorf("%v: reason too long for a close frame", tc.err)
		}
	}
}

// TestParserCloseCodes checks every code a peer may and may not send
// (RFC 6455 7.4 and the IANA registry).
func TestParserCloseCodes(t *testing.T) {
	valid := []StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []StatusCode{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for _, code := range valid {
		p := NewParser(testMaxMessage)
		got, err, _ := drive(t, &p, stream(closeFrame(code, "r")), whole)
		if err != nil || len(got) != 1 || got[0].code != code || got[0].payload != "r" {
			t.Errorf("close %d: got %v, %v; want it accepted", code, got, err)
		}
	}
	for _, code := range invalid {
		p := NewParser(testMaxMessage)
		if _, err, _ := drive(t, &p, stream(closeFrame(code, "")), whole); !errors.Is(err, ErrBadCloseCode) {
			t.Errorf("close %d: error %v, want %v", code, err, ErrBadCloseCode)
		}
	}
}

// TestParserValidTextSplitAnywhere cuts valid UTF-8 text into two
// fragments at every byte: a rune split across fragments is not an error.
func TestParserValidTextSplitAnywhere(t *testing.T) {
	const s = "aé€𝄞 κόσμε z"
	for i := 0; i <= len(s); i++ {
		p := NewParser(testMaxMessage)
		got, err, _ := drive(t, &p, stream(frag(OpText, s[:i]), cont(s[i:])), whole)
		if err != nil || len(got) != 1 || got[0].payload != s {
			t.Fatalf("split at %d: %v, %v", i, got, err)
		}
	}
}

// TestParserReassemblyBuffer checks the reassembly buffer's life: none for
// whole messages, one while a fragmented message is in flight, given back
// at the start of the call after the message was handed out, and never
// grown past the bound.
func TestParserReassemblyBuffer(t *testing.T) {
	const bound = 100 << 10
	p := NewParser(bound)
	buf := stream(text("whole"))
	if _, n, err := p.Next(buf); err != nil || n != len(buf) || p.reasm != nil {
		t.Fatalf("whole message: n %d err %v buffer %v", n, err, p.reasm != nil)
	}
	big := strings.Repeat("q", bound/2)
	buf = stream(frag(OpBinary, big))
	if _, n, err := p.Next(buf); err != nil || n != len(buf) || p.reasm == nil {
		t.Fatalf("first fragment: n %d err %v buffer %v", n, err, p.reasm != nil)
	}
	buf = stream(cont(big))
	m, n, err := p.Next(buf)
	if err != nil || n != len(buf) || len(m.Payload) != bound || cap(m.Payload) > bound {
		t.Fatalf("last fragment: n %d err %v len %d cap %d", n, err, len(m.Payload), cap(m.Payload))
	}
	if _, _, err := p.Next(nil); err != nil || p.reasm != nil {
		t.Fatalf("the next call kept the buffer (%v)", err)
	}
}

// TestParserIdleSize pins the per-connection cost of an idle parser: the
// WebSocket target is 1.5 KiB per idle connection in all.
func TestParserIdleSize(t *testing.T) {
	if got := sizeofParser(); got > 32 {
		t.Errorf("Parser is %d bytes, want <= 32", got)
	}
	if got := sizeofHandshakeState(); got > 4 {
		t.Errorf("HandshakeState is %d bytes, want <= 4", got)
	}
}

// TestParserNoAllocs checks the steady state: whole messages, control
// frames and (after the first, which fills the pool) fragmented messages
// cost no allocation.
func TestParserNoAllocs(t *testing.T) {
	in := stream(text("hello, world"), binary_("\x00\x01"), pingFrame("p"), pongFrame(""),
		frag(OpText, "frag"), pingFrame("x"), contMore("men"), cont("ted"))
	buf := make([]byte, len(in))
	p := NewParser(testMaxMessage)
	run := func() {
		copy(buf, in) // the parser unmasks in place
		for b := buf; len(b) > 0; {
			_, n, err := p.Next(b)
			if err != nil || n == 0 {
				t.Fatalf("n %d err %v", n, err)
			}
			b = b[n:]
		}
	}
	run()
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

// TestMaskBytes checks the word-at-a-time XOR against the definition at
// every length and alignment of a short payload.
func TestMaskBytes(t *testing.T) {
	src := allBytes()
	for n := 0; n <= 40; n++ {
		for off := 0; off < 8; off++ {
			in := src[off : off+n]
			got := make([]byte, n)
			maskBytes(got, in, testKey)
			for i := range in {
				if got[i] != in[i]^testKey[i%4] {
					t.Fatalf("len %d offset %d: byte %d wrong", n, off, i)
				}
			}
		}
	}
}

// TestUTF8StateMatchesStandardLibrary feeds every sequence of up to four
// bytes drawn from the boundary values of UTF-8's byte ranges, cut in two
// at every point: the state must end at a rune boundary exactly when
// utf8.Valid accepts the sequence, and refuse it (utf8Invalid) exactly
// when no continuation could make it valid.
func TestUTF8StateMatchesStandardLibrary(t *testing.T) {
	values := []byte{0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5}
	seq := make([]byte, 0, 4)
	var walk func()
	walk = func() {
		valid, prefix := utf8.Valid(seq), validPrefix(seq)
		for cut := 0; cut <= len(seq); cut++ {
			s := utf8Boundary.feed(seq[:cut]).feed(seq[cut:])
			if (s == utf8Boundary) != valid {
				t.Fatalf("% x cut at %d: state %d, utf8.Valid %v", seq, cut, s, valid)
			}
			if (s == utf8Invalid) == prefix {
				t.Fatalf("% x cut at %d: state %d, yet valid prefix is %v", seq, cut, s, prefix)
			}
		}
		if len(seq) == cap(seq) {
			return
		}
		for _, v := range values {
			seq = append(seq, v)
			walk()
			seq = seq[:len(seq)-1]
		}
	}
	walk()
}

// validPrefix reports whether some bytes appended to s make it valid
// UTF-8: s is valid but for at most its last three bytes, which some
// continuation bytes complete. Every continuation range allowed after a
// lead byte holds one of 0x80, 0x90 and 0xA0, so trying those suffices.
func validPrefix(s []byte) bool {
	for k := 0; k <= min(3, len(s)); k++ {
		head, tail := s[:len(s)-k], s[len(s)-k:]
		if utf8.Valid(head) && completable(tail) {
			return true
		}
	}
	return false
}

func completable(tail []byte) bool {
	if len(tail) == 0 {
		return true
	}
	conts := []byte{0x80, 0x90, 0xA0}
	var try [7]byte
	for _, a := range conts {
		for _, b := range conts {
			for _, c := range conts {
				for n := 1; n <= 3; n++ {
					t := append(append(try[:0], tail...), []byte{a, b, c}[:n]...)
					if utf8.Valid(t) {
						return true
					}
				}
			}
		}
	}
	return false
}
