package server

import (
	"bytes"
	"errors"
	"testing"
)

// frameAll feeds chunks one at a time the way OnTraffic sees them: bytes
// not yet consumed stay buffered in front of the next chunk.
func frameAll(chunks [][]byte, max int) (lines []string, err error) {
	var buffered []byte
	for _, chunk := range chunks {
		buffered = append(buffered, chunk...)
		consumed := 0
		for {
			line, n, err := cutLine(buffered[consumed:], max)
			if err != nil {
				return lines, err
			}
			if n == 0 {
				break
			}
			consumed += n
			if len(line) > 0 {
				lines = append(lines, string(line))
			}
		}
		buffered = buffered[consumed:]
	}
	return lines, nil
}

func TestCutLine(t *testing.T) {
	cases := []struct {
		name    string
		chunks  []string
		max     int
		want    []string
		wantErr error
	}{
		{name: "one line", chunks: []string{"abc\n"}, max: 10, want: []string{"abc"}},
		{name: "crlf", chunks: []string{"abc\r\n"}, max: 10, want: []string{"abc"}},
		{name: "lone cr kept inside", chunks: []string{"a\rb\n"}, max: 10, want: []string{"a\rb"}},
		{name: "empty lines skipped", chunks: []string{"\n\r\n\n"}, max: 10, want: nil},
		{name: "split over reads", chunks: []string{"ab", "c", "d\r", "\n"}, max: 10, want: []string{"abcd"}},
		{name: "cr and lf in different reads", chunks: []string{"ab\r", "\ncd\n"}, max: 10, want: []string{"ab", "cd"}},
		{name: "many per read", chunks: []string{"a\nb\nc\nd"}, max: 10, want: []string{"a", "b", "c"}},
		{name: "exactly max", chunks: []string{"0123456789\n"}, max: 10, want: []string{"0123456789"}},
		{name: "exactly max with cr", chunks: []string{"0123456789\r", "\n"}, max: 10, want: []string{"0123456789"}},
		{name: "over max", chunks: []string{"0123456789x\n"}, max: 10, wantErr: ErrLineTooLong},
		{name: "over max with cr", chunks: []string{"0123456789x\r\n"}, max: 10, wantErr: ErrLineTooLong},
		{name: "unterminated over max", chunks: []string{"0123456789", "xy"}, max: 10, wantErr: ErrLineTooLong},
		{name: "unterminated max plus cr waits", chunks: []string{"0123456789\r"}, max: 10, want: nil},
		{name: "binary bytes pass", chunks: []string{"\x00\xff\xfe\n"}, max: 10, want: []string{"\x00\xff\xfe"}},
		{name: "lines before a too-long one", chunks: []string{"ok\n0123456789abc\n"}, max: 10, want: []string{"ok"}, wantErr: ErrLineTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chunks := make([][]byte, len(tc.chunks))
			for i, c := range tc.chunks {
				chunks[i] = []byte(c)
			}
			got, err := frameAll(chunks, tc.max)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("lines = %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("lines = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestCutLineDoesNotAllocate(t *testing.T) {
	buf := []byte("hello world\r\nsecond line\npartial")
	allocs := testing.AllocsPerRun(100, func() {
		for off := 0; ; {
			_, n, _ := cutLine(buf[off:], 64)
			if n == 0 {
				break
			}
			off += n
		}
	})
	if allocs != 0 {
		t.Fatalf("cutLine allocates %.1f times per run", allocs)
	}
}

// FuzzFraming checks that framing does not depend on how the stream is cut
// into reads, and that every line it yields is within the limit and free of
// terminators. The seed corpus runs as a normal test.
func FuzzFraming(f *testing.F) {
	for _, seed := range []string{"", "a\n", "a\r\nb\n", "\n\n\r\n", "abc", "x\ry\r\n", "\x00\xff\n", "0123456789\r\n0123456789x\n"} {
		f.Add([]byte(seed), uint8(3), uint8(10))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint8, max uint8) {
		limit := int(max)%32 + 1
		whole, errWhole := frameAll([][]byte{data}, limit)
		step := int(cut)%7 + 1
		var chunks [][]byte
		for i := 0; i < len(data); i += step {
			chunks = append(chunks, data[i:min(i+step, len(data))])
		}
		pieces, errPieces := frameAll(chunks, limit)
		if !errors.Is(errPieces, errWhole) {
			// A too-long tail can be spotted earlier in pieces, never later.
			if !(errors.Is(errPieces, ErrLineTooLong) && errWhole == nil) {
				t.Fatalf("whole: %v, pieces: %v", errWhole, errPieces)
			}
		}
		if errWhole == nil && errPieces == nil && len(whole) != len(pieces) {
			t.Fatalf("whole %q != pieces %q", whole, pieces)
		}
		for i := range min(len(whole), len(pieces)) {
			if whole[i] != pieces[i] {
				t.Fatalf("line %d: whole %q != pieces %q", i, whole[i], pieces[i])
			}
		}
		for _, l := range whole {
			if len(l) == 0 || len(l) > limit || bytes.IndexByte([]byte(l), '\n') >= 0 {
				t.Fatalf("bad line %q (limit %d)", l, limit)
			}
		}
	})
}

func BenchmarkCutLine(b *testing.B) {
	var buf []byte
	for range 1000 {
		buf = append(buf, "a typical chat line of some sixty bytes, give or take a few\r\n"...)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; ; {
			_, n, _ := cutLine(buf[off:], DefaultMaxLine)
			if n == 0 {
				break
			}
			off += n
		}
	}
}
