package shard

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The outlier rule, on a manual clock: a reader that holds senders back
// while the others keep up is cut once it has done so for WriteDeadline;
// readers that are all slow alike slow the senders down and nobody is cut;
// PaceAll cuts nobody who reads; past MaxLag a member that reads holds
// senders back and one that does not is cut.
func TestOutlierRule(t *testing.T) {
	const (
		maxLag   = 1 << 20
		deadline = 2 * time.Second
		step     = 50 * time.Millisecond
		watch    = 5 * deadline // fake time watched
	)
	line := []byte(strings.Repeat("o", 1020))
	cases := []struct {
		name     string
		fast     int // readers that read everything
		slow     int // readers that read readPerStep each step
		roomy    int // readers as slow whose sockets took 256 KiB at first: less far behind in the log
		stalled  int // members that never read
		burst    int // bytes published at the start (more only while not congested)
		policy   SlowReaderPolicy
		wantCut  string // "": nobody; "slow": every slow reader (ErrSlowConsumer); "stalled": every stalled one (ErrTooFarBehind)
		cutAfter time.Duration
	}{
		{name: "one slow reader among fast ones", fast: 3, slow: 1, burst: 700 << 10, wantCut: "slow", cutAfter: deadline + time.Second},
		{name: "one slow reader and the sender", slow: 1, burst: 700 << 10, wantCut: "slow", cutAfter: deadline + time.Second},
		{name: "every reader slow alike", slow: 4, burst: 700 << 10},
		{name: "half the readers slow: served unevenly, not an outlier", fast: 3, slow: 4, burst: 700 << 10},
		// Overload: every reader reads alike, but the one with the smallest
		// kernel buffers is furthest behind in the log, alone flagged.
		{name: "readers slow alike, one with a smaller socket", slow: 1, roomy: 8, burst: 700 << 10},
		{name: "one slow reader, pace everyone", fast: 3, slow: 1, burst: 700 << 10, policy: PaceAll},
		{name: "past MaxLag: reader held, stalled cut", fast: 1, slow: 1, stalled: 1, burst: maxLag + 300<<10,
			policy: PaceAll, wantCut: "stalled", cutAfter: time.Second + 2*step},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLoop(t)
			w := &fakeWaiter{}
			clock := newManualClock()
			type cutRecord struct {
				id  int64
				err error
				at  time.Time
			}
			var cuts []cutRecord // written on the loop
			f := newFan(t, Options{Waiter: w, MaxLag: maxLag, WriteDeadline: deadline, HoldSenders: true,
				SlowReader: tc.policy, Clock: clock,
				OnEvict:  func(m *Member, err error) { cuts = append(cuts, cutRecord{m.ID, err, clock.Now()}) },
				OnResume: func(*Member) {}})
			s := join(f, l, 1)
			var fast, slow, stalled []testMember
			for i := range tc.fast {
				fast = append(fast, join(f, l, int64(100+i)))
			}
			for i := range tc.slow {
				m := join(f, l, int64(200+i))
				m.conn.limit(8 << 10) // its socket takes something at first, as a fresh one does
				slow = append(slow, m)
			}
			for i := range tc.roomy {
				m := join(f, l, int64(400+i))
				m.conn.limit(256 << 10)
				slow = append(slow, m)
			}
			for i := range tc.stalled {
				m := join(f, l, int64(300+i))
				m.conn.limit(4 << 10) // takes a little at first, then never reads again
				stalled = append(stalled, m)
			}
			publish := func(bytes int) {
				l.do(func() {
					for n := 0; n < bytes; n += len(line) + 4 {
						s.Publish(line)
					}
				})
			}
			publish(tc.burst)
			settle(t, l)
			start := clock.Now()
			for clock.Now().Sub(start) < watch {
				for _, m := range slow {
					m.conn.limit(8 << 10) // reads 8 KiB a step: 160 KiB/s
				}
				w.wakeAll()
				settle(t, l)
				clock.advance(step) // the sweep's timer fires on the way
				settle(t, l)
				if !f.Congested() {
					publish(64 << 10) // a sender goes on while nobody holds it back
					settle(t, l)
				}
			}
			var got []cutRecord
			l.do(func() { got = append(got, cuts...) })
			want := map[int64]error{}
			switch tc.wantCut {
			case "slow":
				for _, m := range slow {
					want[m.ID] = ErrSlowConsumer
				}
			case "stalled":
				for _, m := range stalled {
					want[m.ID] = ErrTooFarBehind
				}
			}
			for _, c := range got {
				wantErr, ok := want[c.id]
				switch {
				case !ok:
					t.Errorf("member %d cut after %s: %v; want it kept", c.id, c.at.Sub(start), c.err)
				case !errors.Is(c.err, wantErr):
					t.Errorf("member %d cut for %v, want %v", c.id, c.err, wantErr)
				case c.at.Sub(start) > tc.cutAfter:
					t.Errorf("member %d cut after %s, want within %s", c.id, c.at.Sub(start), tc.cutAfter)
				}
				delete(want, c.id)
			}
			for id, err := range want {
				t.Errorf("member %d not cut within %s of fake time, want %v", id, watch, err)
			}
			if st := f.Stats(); tc.slow > 0 && st.Congestions == 0 {
				t.Errorf("the slow readers never held the sender back: %+v", st)
			}
			if tc.wantCut == "slow" && f.Congested() {
				t.Error("still congested once the slow reader was cut")
			}
			for _, m := range fast {
				if m.Lag() != 0 {
					t.Errorf("fast reader %d is %d bytes behind", m.ID, m.Lag())
				}
			}
			for _, c := range got {
				t.Logf("member %d cut after %s: %v", c.id, c.at.Sub(start), c.err)
			}
		})
	}
}
