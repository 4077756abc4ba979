package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// writeUsage is `fanout bench -h`: every flag with its default (the
// default scenario's, for the workload flags), then each preset with the
// flags it sets.
func writeUsage(w io.Writer) {
	sc, _ := ScenarioByName(defaultScenario)
	fs := newFlagSet(&options{}, &sc)
	fmt.Fprintf(w, "usage: fanout bench [flags]\n\nThe workload flags default to the --scenario's preset; the defaults shown are %s's.\n\n", defaultScenario)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		def := flagValue(f)
		if kind == "string" {
			def = fmt.Sprintf("%q", def)
		}
		fmt.Fprintf(w, "  --%s\n    \t%s (default %s)\n", strings.TrimSpace(f.Name+" "+kind), usage, def)
	})
	fmt.Fprintln(w, "\nScenarios (--scenario NAME sets these flags; any flag given overrides its preset):")
	for _, s := range Scenarios {
		fmt.Fprintf(w, "  %s: %s\n    \t%s\n", s.Name, s.Note, presetFlags(s))
	}
}

// presetFlags spells what preset sc sets as the flags that would set it:
// each one whose value differs from its zero.
func presetFlags(sc Scenario) string {
	var zero Scenario
	base := newFlagSet(&options{}, &zero)
	var set []string
	newFlagSet(&options{}, &sc).VisitAll(func(f *flag.Flag) {
		switch v := flagValue(f); {
		case f.DefValue == base.Lookup(f.Name).DefValue:
		case v == "true":
			set = append(set, "--"+f.Name)
		default:
			set = append(set, "--"+f.Name+" "+v)
		}
	})
	return strings.Join(set, " ")
}

// flagValue is f's default as one would type it: 1000000, not 1e+06.
func flagValue(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		if v, isFloat := g.Get().(float64); isFloat {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return f.DefValue
}

// flagName finds the flag the flag package's errors name ("-x"), after
// a space or at the start, never inside a quoted value.
var flagName = regexp.MustCompile(`(^|[ ])-([a-z][a-z0-9-]*)`)

// flagError rewords an error of the flag package as the docs would say
// it: flags spelled --x, and a bad duration told that it needs a unit.
func flagError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	var hint string
	if m := flagName.FindStringSubmatch(msg); m != nil && strings.HasPrefix(msg, "invalid value") {
		if f := fs.Lookup(m[2]); f != nil {
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isDuration := g.Get().(time.Duration); isDuration {
					hint = " (a duration needs a unit: 10s, 500ms, 2m)"
				}
			}
		}
	}
	return fmt.Errorf("%s%s", flagName.ReplaceAllString(msg, "$1--$2"), hint)
}
