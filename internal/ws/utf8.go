package ws

import "unicode/utf8"

// utf8State is where an incremental UTF-8 check stands between two pieces
// of one text message: at a rune boundary, or inside a rune with what its
// next byte may be. One byte per connection carries a rune split across
// fragments, so the bytes already checked need not be looked at again and
// an invalid sequence is refused in the fragment where it starts going
// wrong (the well-formed sequences of Unicode's Table 3-7).
type utf8State uint8

const (
	utf8Boundary utf8State = iota // between runes: the only state a whole message may end in
	utf8Tail1                     // one more continuation byte (80..BF)
	utf8Tail2                     // two more, the next 80..BF
	utf8Tail3                     // three more, the next 80..BF
	utf8AfterE0                   // next A0..BF, then one more (no overlong 3-byte form)
	utf8AfterED                   // next 80..9F, then one more (no surrogates)
	utf8AfterF0                   // next 90..BF, then two more (no overlong 4-byte form)
	utf8AfterF4                   // next 80..8F, then two more (nothing past U+10FFFF)
	utf8Invalid                   // the message is not UTF-8, whatever follows
)

// feed checks p, the next piece of a message, from state s.
func (s utf8State) feed(p []byte) utf8State {
	if s == utf8Boundary && utf8.Valid(p) {
		return utf8Boundary // the common case, at the standard library's speed
	}
	for _, c := range p {
		if s = s.step(c); s == utf8Invalid {
			return utf8Invalid
		}
	}
	return s
}

func (s utf8State) step(c byte) utf8State {
	switch s {
	case utf8Boundary:
		switch {
		case c < 0x80:
			return utf8Boundary
		case c >= 0xC2 && c <= 0xDF:
			return utf8Tail1
		case c == 0xE0:
			return utf8AfterE0
		case c == 0xED:
			return utf8AfterED
		case c >= 0xE1 && c <= 0xEF:
			return utf8Tail2
		case c == 0xF0:
			return utf8AfterF0
		case c >= 0xF1 && c <= 0xF3:
			return utf8Tail3
		case c == 0xF4:
			return utf8AfterF4
		}
	case utf8Tail1, utf8Tail2, utf8Tail3:
		if c >= 0x80 && c <= 0xBF {
			return s - 1 // utf8Tail1-1 is utf8Boundary
		}
	case utf8AfterE0:
		if c >= 0xA0 && c <= 0xBF {
			return utf8Tail1
		}
	case utf8AfterED:
		if c >= 0x80 && c <= 0x9F {
			return utf8Tail1
		}
	case utf8AfterF0:
		if c >= 0x90 && c <= 0xBF {
			return utf8Tail2
		}
	case utf8AfterF4:
		if c >= 0x80 && c <= 0x8F {
			return utf8Tail2
		}
	}
	return utf8Invalid
}
