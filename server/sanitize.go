package server

import "strings"

// sanitize returns s with every byte that is not printable ASCII (control
// characters, DEL, anything from 0x80 on) written as \xNN, so that an
// address a peer or a PROXY header chose cannot forge log lines, break a
// terminal or smuggle bytes into /connz. Strings that need nothing are
// returned as they are, without allocating.
func sanitize(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e })
	if i < 0 {
		return s
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for j := i; j < len(s); j++ {
		c := s[j]
		if c >= 0x20 && c <= 0x7e {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}
