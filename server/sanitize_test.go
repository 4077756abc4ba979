package server

import "testing"

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{in: "203.0.113.7:4242", want: "203.0.113.7:4242"},
		{in: "[2001:db8::7]:4242", want: "[2001:db8::7]:4242"},
		{in: "", want: ""},
		{in: "a\nb", want: `a\x0ab`},
		{in: "\x1b[31mred", want: `\x1b[31mred`},
		{in: "tab\there\x7f", want: `tab\x09here\x7f`},
		{in: "caf\xc3\xa9", want: `caf\xc3\xa9`},
		{in: "\xff", want: `\xff`},
	} {
		if got := sanitize(tc.in); got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = sanitize("198.51.100.1:1000") }); n != 0 {
		t.Errorf("a clean address allocates %v times", n)
	}
}
