package bench

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fanout/fanout/internal/flagtext"
)

// writeUsage is `fanout bench -h`: every flag with its default (the
// default scenario's, for the workload flags), then each preset with the
// flags it sets.
func writeUsage(w io.Writer) {
	sc, _ := ScenarioByName(defaultScenario)
	fs := newFlagSet(&options{}, &sc)
	fmt.Fprintf(w, "usage: fanout bench [flags]\n\nThe workload flags default to the --scenario's preset; the defaults shown are %s's.\n\n", defaultScenario)
	flagtext.PrintFlags(w, fs, true)
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
