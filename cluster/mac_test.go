package cluster

import (
	"errors"
	"hash/maphash"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

var (
	keyA = []byte("key-a-0123456789abcdefghijklmnopqrstuvwxyz")
	keyB = []byte("key-b-0123456789abcdefghijklmnopqrstuvwxyz")
)

func TestParseKeys(t *testing.T) {
	long := strings.Repeat("k", MinKeyLen)
	for _, tc := range []struct {
		name string
		file string
		want int // keys; 0: an error
	}{
		{name: "one", file: long + "\n", want: 1},
		{name: "surrounding whitespace and blank lines", file: "\n  " + long + "  \r\n\n", want: 1},
		{name: "two for rotation", file: long + "\n" + long + "x\n", want: 2},
		{name: "empty", file: ""},
		{name: "blank", file: "\n \n"},
		{name: "short", file: strings.Repeat("k", MinKeyLen-1)},
		{name: "three", file: long + "\n" + long + "\n" + long + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseKeys([]byte(tc.file))
			if tc.want == 0 {
				if !errors.Is(err, ErrBadKeyFile) {
					t.Fatalf("err = %v, want ErrBadKeyFile", err)
				}
				if strings.Contains(err.Error(), "kkkk") {
					t.Fatalf("the error quotes the key: %v", err)
				}
				return
			}
			if err != nil || len(keys) != tc.want {
				t.Fatalf("got %d keys, %v; want %d", len(keys), err, tc.want)
			}
		})
	}
}

// TestMAC: a MAC verifies only for the same kind, fields and payload, under
// a key the verifier holds; the second key is accepted (rotation).
func TestMAC(t *testing.T) {
	sign := func(keys [][]byte, kind string, payload string, fields ...string) string {
		m := newMacer(keys)
		m.fields(kind, fields...)
		return m.sign([]byte(payload))
	}
	verify := func(keys [][]byte, mac, kind, payload string, fields ...string) bool {
		m := newMacer(keys)
		m.fields(kind, fields...)
		return m.verify(mac, []byte(payload))
	}
	good := sign([][]byte{keyA}, macKindMessage, "1:x\r\n", "s", "2", "z.0.0")
	if len(good) != 64 {
		t.Fatalf("MAC %q is not 64 hex digits", good)
	}
	for _, tc := range []struct {
		name    string
		keys    [][]byte
		mac     string
		kind    string
		payload string
		fields  []string
		ok      bool
	}{
		{name: "same", keys: [][]byte{keyA}, mac: good, kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "2", "z.0.0"}, ok: true},
		{name: "verifier rotating in a new key", keys: [][]byte{keyB, keyA}, mac: good, kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "2", "z.0.0"}, ok: true},
		{name: "another key", keys: [][]byte{keyB}, mac: good, kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "2", "z.0.0"}},
		{name: "payload changed", keys: [][]byte{keyA}, mac: good, kind: macKindMessage, payload: "1:y\r\n", fields: []string{"s", "2", "z.0.0"}},
		{name: "node changed", keys: [][]byte{keyA}, mac: good, kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "3", "z.0.0"}},
		{name: "seq changed", keys: [][]byte{keyA}, mac: good, kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "2", "z.1.0"}},
		{name: "subject changed", keys: [][]byte{keyA}, mac: good, kind: macKindMessage, payload: "1:x\r\n", fields: []string{"t", "2", "z.0.0"}},
		{name: "fields shifted into the payload", keys: [][]byte{keyA}, mac: good, kind: macKindMessage, payload: "z.0.0\n1:x\r\n", fields: []string{"s", "2"}},
		{name: "another kind", keys: [][]byte{keyA}, mac: good, kind: macKindAnswer, payload: "1:x\r\n", fields: []string{"s", "2", "z.0.0"}},
		{name: "upper-case hex", keys: [][]byte{keyA}, mac: strings.ToUpper(good), kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "2", "z.0.0"}},
		{name: "truncated", keys: [][]byte{keyA}, mac: good[:62], kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "2", "z.0.0"}},
		{name: "empty", keys: [][]byte{keyA}, mac: "", kind: macKindMessage, payload: "1:x\r\n", fields: []string{"s", "2", "z.0.0"}},
	} {
		if got := verify(tc.keys, tc.mac, tc.kind, tc.payload, tc.fields...); got != tc.ok {
			t.Errorf("%s: verify = %v, want %v", tc.name, got, tc.ok)
		}
	}
	if rotated := sign([][]byte{keyB, keyA}, macKindMessage, "p", "f"); !verify([][]byte{keyA, keyB}, rotated, macKindMessage, "p", "f") {
		t.Error("a node signing with the new key is not believed by one that has it second")
	}
}

// BenchmarkMAC: signing and checking one message, by payload size.
func BenchmarkMAC(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 16 << 10, 256 << 10} {
		payload := []byte(strings.Repeat("x", size))
		m := newMacer([][]byte{keyA})
		m.fields(macKindMessage, DefaultSubject, "2", "dn9yfi0usm0l.123456.7890123")
		mac := m.sign(payload)
		b.Run("sign/bytes="+sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				m.fields(macKindMessage, DefaultSubject, "2", "dn9yfi0usm0l.123456.7890123")
				_ = m.sign(payload)
			}
		})
		b.Run("verify/bytes="+sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				m.fields(macKindMessage, DefaultSubject, "2", "dn9yfi0usm0l.123456.7890123")
				if !m.verify(mac, payload) {
					b.Fatal("no")
				}
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n)
}

// BenchmarkReceive: everything the subscription goroutine does with one
// message before it hands the batch on (headers, MAC, frames, sequence),
// by batch size, without and with a cluster key.
func BenchmarkReceive(b *testing.B) {
	const ring = 4096
	for _, keyed := range []bool{false, true} {
		for _, lines := range []int{1, 16, 256} {
			name := "key=off"
			var keys [][]byte
			if keyed {
				name, keys = "key=on", [][]byte{keyA}
			}
			b.Run(name+"/lines="+strconv.Itoa(lines), func(b *testing.B) {
				br := benchBridge(keys)
				payload := benchPayload(b, 2, lines, 32)
				msgs := make([]*nats.Msg, ring)
				out := outSeq{run: 12345678}
				tx := newMacer(keys)
				for i := range msgs {
					seq := out.stamp(lines)
					h := nats.Header{originHeader: {"2"}, seqHeader: {seq}}
					if tx != nil {
						tx.fields(macKindMessage, DefaultSubject, "2", seq)
						h[macHeader] = []string{tx.sign(payload)}
					}
					msgs[i] = &nats.Msg{Subject: DefaultSubject, Header: h, Data: payload}
				}
				b.SetBytes(int64(len(payload)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if i%ring == 0 {
						br.origins.slots[2], br.origins.used = nil, 0 // the ring starts over
					}
					br.receive(msgs[i%ring])
					i++
				}
				if bad := br.malformed.Load() + br.unauthenticated.Load() + br.duplicates.Load(); bad > 0 || br.received.Load() == 0 {
					b.Fatalf("not all delivered: %d refused", bad)
				}
			})
		}
	}
}

// benchBridge is a Bridge with no NATS connection, for receive alone.
func benchBridge(keys [][]byte) *Bridge {
	br := &Bridge{
		cfg:    Config{Subject: DefaultSubject, Node: 1, MaxLine: DefaultMaxLine, Keys: keys},
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		node:   "1",
		inject: func([]byte, int) bool { return true },
		rx:     newMacer(keys),
		seed:   maphash.MakeSeed(),
	}
	br.origins.trusted = len(keys) > 0
	br.origins.maxFrames = 1 << 20
	return br
}
