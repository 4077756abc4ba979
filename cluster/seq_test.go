package cluster

import "testing"

// TestOriginsObserve: a receiver delivers each origin's messages once,
// counts the lines of the ones it never saw, and starts afresh when the
// origin restarts.
func TestOriginsObserve(t *testing.T) {
	type msg struct {
		origin, seq string
		lines       int
		want        verdict
		missed      uint64
	}
	cases := []struct {
		name string
		msgs []msg
	}{
		{name: "in order", msgs: []msg{
			{origin: "1", seq: "a.0.0", lines: 3, want: deliver},
			{origin: "1", seq: "a.1.3", lines: 2, want: deliver},
			{origin: "1", seq: "a.2.5", lines: 1, want: deliver},
		}},
		{name: "joined mid-stream: nothing missed", msgs: []msg{
			{origin: "1", seq: "a.57.900", lines: 1, want: deliver},
			{origin: "1", seq: "a.58.901", lines: 1, want: deliver},
		}},
		{name: "gap counts the lines in between", msgs: []msg{
			{origin: "1", seq: "a.0.0", lines: 3, want: deliver},
			{origin: "1", seq: "a.4.10", lines: 1, want: deliver, missed: 7},
			{origin: "1", seq: "a.5.11", lines: 1, want: deliver},
		}},
		{name: "repeat and older dropped", msgs: []msg{
			{origin: "1", seq: "a.0.0", lines: 2, want: deliver},
			{origin: "1", seq: "a.1.2", lines: 2, want: deliver},
			{origin: "1", seq: "a.1.2", lines: 2, want: duplicate},
			{origin: "1", seq: "a.0.0", lines: 2, want: duplicate},
			{origin: "1", seq: "a.2.4", lines: 2, want: deliver},
		}},
		{name: "origins are apart", msgs: []msg{
			{origin: "1", seq: "a.0.0", lines: 1, want: deliver},
			{origin: "2", seq: "a.0.0", lines: 1, want: deliver},
			{origin: "2", seq: "a.1.1", lines: 1, want: deliver},
			{origin: "1", seq: "a.1.1", lines: 1, want: deliver},
		}},
		{name: "restart starts a new count", msgs: []msg{
			{origin: "1", seq: "a.9.40", lines: 1, want: deliver},
			{origin: "1", seq: "b.0.0", lines: 1, want: deliver},
			{origin: "1", seq: "b.1.1", lines: 1, want: deliver},
		}},
		{name: "no or bad header: delivered untracked", msgs: []msg{
			{origin: "1", seq: "", lines: 1, want: deliver},
			{origin: "1", seq: "a.x.0", lines: 1, want: deliver},
			{origin: "1", seq: "a.1", lines: 1, want: deliver},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := origins{}
			for i, m := range tc.msgs {
				v, missed := o.observe(m.origin, m.seq, m.lines)
				if v != m.want || missed != m.missed {
					t.Fatalf("message %d (%s %q): verdict %d missed %d, want %d and %d", i, m.origin, m.seq, v, missed, m.want, m.missed)
				}
			}
		})
	}
}

func TestOutSeqStamp(t *testing.T) {
	o := outSeq{incarnation: "k"}
	for _, tc := range []struct {
		lines int
		want  string
	}{{lines: 3, want: "k.0.0"}, {lines: 1, want: "k.1.3"}, {lines: 5, want: "k.2.4"}} {
		if got := o.stamp(tc.lines); got != tc.want {
			t.Fatalf("stamp(%d) = %q, want %q", tc.lines, got, tc.want)
		}
	}
}
