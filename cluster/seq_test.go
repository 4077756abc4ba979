package cluster

import (
	"math"
	"testing"
)

// TestOriginsObserve: a receiver delivers each origin's messages once,
// counts the lines of the ones it never saw, starts afresh when the
// origin restarts, and lets no forged sequence hide the origin's real
// messages or claim more missed lines than it could have skipped.
func TestOriginsObserve(t *testing.T) {
	type msg struct {
		node   int
		run    uint64
		num    uint64
		before uint64
		lines  int
		sum    uint64 // the payload's hash; 0 unless the case needs two payloads
		want   verdict
		missed uint64
	}
	const huge = math.MaxUint64 - 10
	const far = 3 + maxSkip + 1
	cases := []struct {
		name    string
		trusted bool // with a cluster key
		msgs    []msg
	}{
		{name: "in order", msgs: []msg{
			{node: 1, run: 5, num: 0, before: 0, lines: 3, want: deliver},
			{node: 1, run: 5, num: 1, before: 3, lines: 2, want: deliver},
			{node: 1, run: 5, num: 2, before: 5, lines: 1, want: deliver},
		}},
		{name: "joined mid-stream: nothing missed", msgs: []msg{
			{node: 1, run: 5, num: 57, before: 900, lines: 1, want: deliver},
			{node: 1, run: 5, num: 58, before: 901, lines: 1, want: deliver},
		}},
		{name: "gap counts the lines in between", msgs: []msg{
			{node: 1, run: 5, num: 0, before: 0, lines: 3, want: deliver},
			{node: 1, run: 5, num: 4, before: 10, lines: 1, want: deliver, missed: 7},
			{node: 1, run: 5, num: 5, before: 11, lines: 1, want: deliver},
		}},
		{name: "repeat and older dropped", msgs: []msg{
			{node: 1, run: 5, num: 0, before: 0, lines: 2, want: deliver},
			{node: 1, run: 5, num: 1, before: 2, lines: 2, want: deliver},
			{node: 1, run: 5, num: 1, before: 2, lines: 2, want: duplicate},
			{node: 1, run: 5, num: 0, before: 0, lines: 2, want: duplicate},
			{node: 1, run: 5, num: 2, before: 4, lines: 2, want: deliver},
		}},
		{name: "late arrival within the window is delivered once", msgs: []msg{
			{node: 1, run: 5, num: 0, before: 0, lines: 1, want: deliver},
			{node: 1, run: 5, num: 2, before: 2, lines: 1, want: deliver, missed: 1},
			{node: 1, run: 5, num: 1, before: 1, lines: 1, want: deliver},
			{node: 1, run: 5, num: 1, before: 1, lines: 1, want: duplicate},
		}},
		{name: "with a key: a late arrival is dropped, for order", trusted: true, msgs: []msg{
			{node: 1, run: 5, num: 0, before: 0, lines: 1, want: deliver},
			{node: 1, run: 5, num: 2, before: 2, lines: 1, want: deliver, missed: 1},
			{node: 1, run: 5, num: 1, before: 1, lines: 1, want: duplicate},
			{node: 1, run: 5, num: 3, before: 3, lines: 1, want: deliver},
		}},
		{name: "origins are apart", msgs: []msg{
			{node: 1, run: 5, num: 0, before: 0, lines: 1, want: deliver},
			{node: 2, run: 5, num: 0, before: 0, lines: 1, want: deliver},
			{node: 2, run: 5, num: 1, before: 1, lines: 1, want: deliver},
			{node: 1, run: 5, num: 1, before: 1, lines: 1, want: deliver},
		}},
		{name: "restart starts a new count", msgs: []msg{
			{node: 1, run: 5, num: 9, before: 40, lines: 1, want: deliver},
			{node: 1, run: 6, num: 0, before: 0, lines: 1, want: deliver},
			{node: 1, run: 6, num: 1, before: 1, lines: 1, want: deliver},
		}},
		{name: "forged jump to 2^64 lasts until the real next message", msgs: []msg{
			{node: 2, run: 5, num: 10, before: 10, lines: 1, want: deliver},
			{node: 2, run: 5, num: huge, before: 0, lines: 1, sum: 99, want: deliver},
			{node: 2, run: 5, num: 11, before: 11, lines: 1, want: deliver},
			{node: 2, run: 5, num: 12, before: 12, lines: 1, want: deliver},
			{node: 2, run: 5, num: 12, before: 12, lines: 1, want: duplicate},
		}},
		{name: "forged small jump hides no real message", msgs: []msg{
			{node: 2, run: 5, num: 10, before: 10, lines: 1, want: deliver},
			{node: 2, run: 5, num: 13, before: 13, lines: 1, sum: 99, want: deliver, missed: 2},
			{node: 2, run: 5, num: 11, before: 11, lines: 1, want: deliver},
			{node: 2, run: 5, num: 12, before: 12, lines: 1, want: deliver},
			{node: 2, run: 5, num: 13, before: 13, lines: 1, want: deliver}, // the real 13: another payload
			{node: 2, run: 5, num: 14, before: 14, lines: 1, want: deliver},
		}},
		{name: "missed lines only as many as the skipped messages can hold", msgs: []msg{
			{node: 2, run: 5, num: 0, before: 0, lines: 1, want: deliver},
			{node: 2, run: 5, num: 2, before: huge, lines: 1, want: deliver},                         // 1 message of 2^64 lines: not believed
			{node: 2, run: 5, num: far, before: huge, lines: 1, want: deliver},                       // too far a jump
			{node: 2, run: 5, num: far + 2, before: 1, lines: 1, want: deliver},                      // lines before went back
			{node: 2, run: 5, num: far + 5, before: 2 + 1000, lines: 1, want: deliver, missed: 1000}, // believable again
		}},
		{name: "the table holds node numbers only", msgs: []msg{
			{node: 0, run: 1, num: 0, before: 0, lines: 1, want: deliver},
			{node: MaxNode, run: 1, num: 0, before: 0, lines: 1, want: deliver},
		}},
		{name: "with a key: an older run is a replay", trusted: true, msgs: []msg{
			{node: 1, run: 6, num: 0, before: 0, lines: 1, want: deliver},
			{node: 1, run: 5, num: 7, before: 7, lines: 1, want: stale},
			{node: 1, run: 6, num: 1, before: 1, lines: 1, want: deliver},
			{node: 1, run: 7, num: 0, before: 0, lines: 1, want: deliver},
		}},
		{name: "with a key: far behind is a replay", trusted: true, msgs: []msg{
			{node: 1, run: 6, num: 0, before: 0, lines: 1, want: deliver},
			{node: 1, run: 6, num: window + 1, before: window + 1, lines: 1, want: deliver, missed: window},
			{node: 1, run: 6, num: 0, before: 0, lines: 1, want: stale},
			{node: 1, run: 6, num: window + 2, before: window + 2, lines: 1, want: deliver},
		}},
		{name: "without a key: far behind restarts the count", msgs: []msg{
			{node: 1, run: 6, num: 0, before: 0, lines: 1, want: deliver},
			{node: 1, run: 6, num: window + 1, before: window + 1, lines: 1, want: deliver, missed: window},
			{node: 1, run: 6, num: 0, before: 0, lines: 1, sum: 1, want: deliver},
			{node: 1, run: 6, num: 1, before: 1, lines: 1, want: deliver},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := &originTable{trusted: tc.trusted, maxFrames: 1 << 20}
			for i, m := range tc.msgs {
				v, missed := o.observe(m.node, seqFields{run: m.run, num: m.num, before: m.before}, m.lines, m.sum)
				if v != m.want || missed != m.missed {
					t.Fatalf("message %d (node %d, %d.%d.%d): verdict %d missed %d, want %d and %d",
						i, m.node, m.run, m.num, m.before, v, missed, m.want, m.missed)
				}
			}
		})
	}
}

func TestOutSeqStamp(t *testing.T) {
	o := outSeq{run: 36*36 + 1} // "101" in base 36
	for _, tc := range []struct {
		lines int
		want  string
	}{{lines: 3, want: "101.0.0"}, {lines: 1, want: "101.1.3"}, {lines: 5, want: "101.2.4"}} {
		got := o.stamp(tc.lines)
		if got != tc.want {
			t.Fatalf("stamp(%d) = %q, want %q", tc.lines, got, tc.want)
		}
		if _, ok := parseSeq(got, tc.lines); !ok {
			t.Fatalf("parseSeq refuses what stamp wrote: %q", got)
		}
	}
}
