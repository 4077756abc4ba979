package flagtext

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func newSet() *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Int("clients", 0, "connections")
	fs.Bool("blast", false, "no window")
	fs.String("addr", ":8888", "where")
	var d time.Duration
	DurationVar(fs, &d, "drain", 10*time.Second, "how long")
	return fs
}

func TestDashedSaysWhatAValueLooksLike(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown", args: []string{"--bogus"}, want: "unknown flag --bogus"},
		{name: "no value", args: []string{"--clients"}, want: "--clients needs a value"},
		{name: "not a number", args: []string{"--clients", "x"}, want: `invalid value "x" for --clients: want a whole number`},
		{name: "not a boolean", args: []string{"--blast=x"}, want: `invalid boolean value "x" for --blast: want true or false`},
		{name: "no unit", args: []string{"--drain", "10"}, want: `invalid value "10" for --drain: a duration needs a unit, e.g. 10s or 10ms`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newSet()
			if err := Dashed(fs, fs.Parse(tc.args)); err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	fs := newSet()
	if err := Dashed(fs, fs.Parse([]string{"-h"})); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("help is no longer flag.ErrHelp: %v", err)
	}
}

func TestPrintFlags(t *testing.T) {
	var some, every bytes.Buffer
	PrintFlags(&some, newSet(), false)
	PrintFlags(&every, newSet(), true)
	for _, want := range []string{"  --drain duration\n", "(default 10s)", "  --addr string\n", `(default ":8888")`, "  --blast\n"} {
		if !strings.Contains(some.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, some.String())
		}
	}
	if strings.Contains(some.String(), "(default 0)") || !strings.Contains(every.String(), "(default 0)") ||
		!strings.Contains(every.String(), "(default false)") {
		t.Errorf("zero defaults: without every\n%s\nwith every\n%s", some.String(), every.String())
	}
}
