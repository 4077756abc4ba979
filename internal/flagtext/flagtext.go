// Package flagtext words the command line as the docs do, for every
// subcommand's flags (main's serve and baseline, server's own, bench's):
// flags spelt --name, errors that say what a value should look like
// rather than "parse error", a duration flag that teaches its syntax,
// and help that lists each flag with its kind and default. Stateless;
// safe for concurrent use.
package flagtext

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Dashed rewrites the flag package's parse errors to spell flags as the
// docs do, --max-line rather than -max-line, and to say what a value
// should look like rather than "parse error". The flag package's messages
// are fixed formats; one it does not know is returned as it is, and the
// result still unwraps to err (flag.ErrHelp stays recognisable).
func Dashed(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	for _, f := range []struct{ prefix, format string }{
		{prefix: "flag provided but not defined: -", format: "unknown flag --%s"},
		{prefix: "flag needs an argument: -", format: "--%s needs a value"},
	} {
		if name, ok := strings.CutPrefix(msg, f.prefix); ok {
			return fmt.Errorf(f.format, name)
		}
	}
	// invalid value "x" for flag -name: why / invalid boolean value "x" for -name: why
	for _, sep := range []string{" for flag -", " for -"} {
		if head, tail, ok := strings.Cut(msg, sep); ok && strings.HasPrefix(head, "invalid ") {
			if name, why, ok := strings.Cut(tail, ": "); ok && why == "parse error" && fs.Lookup(name) != nil {
				tail = name + ": " + Explain(fs.Lookup(name), errors.New(why)).Error()
			}
			return wrapped{msg: head + " for --" + tail, err: err}
		}
	}
	return err
}

// Explain replaces the flag package's "parse error" for f's value with
// what the value should look like.
func Explain(f *flag.Flag, err error) error {
	if err.Error() != "parse error" {
		return err
	}
	switch kind, _ := flag.UnquoteUsage(f); kind {
	case "int", "uint":
		return errors.New("want a whole number")
	case "float":
		return errors.New("want a number")
	case "":
		return errors.New("want true or false")
	}
	return err
}

// wrapped is an error with a message of its own that still unwraps to
// the original.
type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.err }

// DurationVar defines a duration flag like flag.DurationVar's, whose
// errors teach the syntax: flag's own says only "parse error", which
// leaves "10" a mystery.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*duration)(p), name, usage)
}

// duration is a flag.Value holding a time.Duration (see DurationVar).
type duration time.Duration

func (d *duration) Set(v string) error {
	parsed, err := time.ParseDuration(v)
	if err != nil {
		if _, numErr := strconv.ParseFloat(v, 64); numErr == nil {
			return fmt.Errorf("a duration needs a unit, e.g. %ss or %sms", v, v)
		}
		return fmt.Errorf("not a duration: give a number and a unit, e.g. 10s, 500ms or 1m30s")
	}
	*d = duration(parsed)
	return nil
}

func (d *duration) String() string { return time.Duration(*d).String() }

// Get returns the time.Duration.
func (d *duration) Get() any { return time.Duration(*d) }

// PrintFlags lists fs's flags as `fanout <command> -h` shows them: spelt
// --name, with their kind and default (what flag.PrintDefaults prints,
// with the dashes of the docs, and "duration" for a duration of any
// type). A zero default ("", 0, 0s, false) is shown only with everyDefault.
func PrintFlags(w io.Writer, fs *flag.FlagSet, everyDefault bool) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		if g, ok := f.Value.(flag.Getter); ok {
			if _, ok := g.Get().(time.Duration); ok {
				kind = "duration"
			}
		}
		fmt.Fprintf(w, "  --%s", f.Name)
		if kind != "" {
			fmt.Fprintf(w, " %s", kind)
		}
		fmt.Fprintf(w, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch f.DefValue {
		case "", "0", "0s", "false":
			if !everyDefault {
				break
			}
			fallthrough
		default:
			if kind == "string" {
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			} else {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
		}
		fmt.Fprintln(w)
	})
}
