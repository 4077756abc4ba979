package ws

import (
	"strings"
	"testing"
)

// BenchmarkParseFrame: one whole masked text frame per op, parsed, unmasked
// in place and UTF-8 checked (the copy that restores the masked bytes is
// part of each op, as a socket read would be).
func BenchmarkParseFrame(b *testing.B) {
	for _, tc := range []struct {
		name    string
		payload string
	}{
		{"ascii=16", strings.Repeat("a", 16)},
		{"ascii=128", strings.Repeat("a", 128)},
		{"ascii=1024", strings.Repeat("a", 1024)},
		{"ascii=16384", strings.Repeat("a", 16<<10)},
		{"greek=1024", strings.Repeat("κ", 512)}, // 2-byte runes: utf8.Valid's slow path
	} {
		b.Run(tc.name, func(b *testing.B) {
			size := len(tc.payload)
			in := stream(text(tc.payload))
			buf := make([]byte, len(in))
			p := NewParser(64 << 10)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(buf, in)
				if _, n, err := p.Next(buf); n != len(in) || err != nil {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkParseFragmented: a 1 KiB ASCII text message in four fragments,
// one ping between them, reassembled through the pooled buffer (compare
// with ParseFrame/ascii=1024).
func BenchmarkParseFragmented(b *testing.B) {
	part := strings.Repeat("f", 256)
	in := stream(frag(OpText, part), contMore(part), pingFrame("p"), contMore(part), cont(part))
	buf := make([]byte, len(in))
	p := NewParser(64 << 10)
	b.ReportAllocs()
	b.SetBytes(4 * 256)
	for b.Loop() {
		copy(buf, in)
		for rest := buf; len(rest) > 0; {
			_, n, err := p.Next(rest)
			if n == 0 || err != nil {
				b.Fatal(n, err)
			}
			rest = rest[n:]
		}
	}
}

func BenchmarkAppendFrameHeader(b *testing.B) {
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = AppendFrameHeader(buf[:0], OpText, i&0x1FFFF)
	}
}

// BenchmarkAppendLine: the whole server→client encoding of a relayed line
// ("<id>:<line>" with its header, UTF-8 checked for the opcode).
func BenchmarkAppendLine(b *testing.B) {
	line := []byte(strings.Repeat("x", 64))
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		buf = AppendLine(buf[:0], 7332994930581504001, line)
	}
}

func BenchmarkParseHandshake(b *testing.B) {
	u := &Upgrader{}
	in := []byte(browserRequest)
	b.ReportAllocs()
	for b.Loop() {
		var st HandshakeState
		if req, _, err := u.Parse(in, &st); err != nil || req.Target != TargetUpgrade {
			b.Fatal(err)
		}
	}
}
