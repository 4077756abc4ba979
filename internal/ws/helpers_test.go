package ws

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// frame describes one client frame for the tests: a well-formed one by
// default, or broken in the ways the fields say.
type frame struct {
	op       Opcode
	payload  []byte
	more     bool   // FIN clear
	rsv      byte   // RSV bits, already shifted (0x40, 0x20, 0x10)
	unmasked bool   // no mask bit, no key
	len16    bool   // the length in the 16-bit form whatever its size
	len64    bool   // the length in the 64-bit form whatever its size
	rawLen   uint64 // with len64: this length instead of the payload's (no payload follows)
}

// testKey is the mask key of test frames: not 0, so that a parser that
// forgets to unmask is caught.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func (f frame) bytes() []byte {
	b0 := byte(f.op) | f.rsv
	if !f.more {
		b0 |= 0x80
	}
	var mask byte = 0x80
	if f.unmasked {
		mask = 0
	}
	b := []byte{b0}
	n := len(f.payload)
	switch {
	case f.rawLen != 0:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, f.rawLen)
	case f.len64 || n > 0xFFFF:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	case f.len16 || n > 125:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mask|byte(n))
	}
	if f.unmasked {
		return append(b, f.payload...)
	}
	b = append(b, testKey[:]...)
	start := len(b)
	b = append(b, f.payload...)
	maskBytes(b[start:], b[start:], testKey)
	return b
}

func stream(frames ...frame) []byte {
	var b []byte
	for _, f := range frames {
		b = append(b, f.bytes()...)
	}
	return b
}

func text(s string) frame    { return frame{op: OpText, payload: []byte(s)} }
func binary_(s string) frame { return frame{op: OpBinary, payload: []byte(s)} }

func closeFrame(code StatusCode, reason string) frame {
	return frame{op: OpClose, payload: append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)}
}

// event is what the driver saw a Parser return, copied out of the buffer.
type event struct {
	op      Opcode
	payload string
	code    StatusCode
}

func (e event) String() string { return fmt.Sprintf("{%v %q %d}", e.op, e.payload, e.code) }

// chunker says how many bytes arrive in the next read.
type chunker func() int

func whole() int      { return 1 << 30 }
func byteByByte() int { return 1 }

// byteByByteThenKiB sends the first 64 bytes one at a time, the rest in
// KiB pieces: every header boundary of a long frame without a quadratic
// test.
func byteByByteThenKiB() chunker {
	sent := 0
	return func() int {
		k := 1
		if sent >= 64 {
			k = 1024
		}
		sent += k
		return k
	}
}

func randomChunks(r *rand.Rand) chunker {
	return func() int { return 1 + r.IntN(9) }
}

// drive feeds in to p as an event loop would: bytes arrive in chunks and
// are appended to what is buffered; after each arrival Next is called
// until it needs more, and the n bytes it consumed are discarded. It
// checks on the way that Next never touches bytes past n and consumes
// only when asked to. It returns the events, the first error, and how
// many bytes were left buffered (an incomplete frame).
func drive(t testing.TB, p *Parser, in []byte, next chunker) (events []event, err error, left int) {
	t.Helper()
	var pending []byte
	consumed := 0
	for off := 0; ; {
		if off < len(in) {
			k := min(next(), len(in)-off)
			pending = append(pending, in[off:off+k]...)
			off += k
		}
		for {
			m, n, err := p.Next(pending)
			if err != nil { // the connection fails: its bytes no longer matter
				return events, err, len(pending)
			}
			if !bytes.Equal(pending[n:], in[consumed+n:off]) {
				t.Fatalf("Next changed bytes past the %d it consumed", n)
			}
			if n == 0 {
				if m.Op != 0 || m.Payload != nil {
					t.Fatalf("Next returned a message without consuming: %+v", m)
				}
				break
			}
			if m.Op != 0 {
				events = append(events, event{m.Op, string(m.Payload), m.Code})
			}
			pending = pending[n:]
			consumed += n
		}
		if off >= len(in) {
			return events, nil, len(pending)
		}
	}
}
