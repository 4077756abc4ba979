package shard

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMeter reports whatever idle fraction the test sets, and counts how
// often it was asked.
type fakeMeter struct {
	idle  float64
	asked int
}

func (m *fakeMeter) Idle() (float64, bool) { m.asked++; return m.idle, true }

// fakeClock steps a pacer through time: each tick is one round due a
// period after the previous one.
type fakeClock struct{ now time.Time }

func (c *fakeClock) advance(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

// run drives p for d of fake time, one round each period costing cost, and
// returns the window the last round was given.
func (c *fakeClock) run(p *pacer, d, cost time.Duration) time.Duration {
	for end := c.now.Add(d); c.now.Before(end); {
		last := c.now
		p.hold(c.advance(PacerPeriod), last, cost)
	}
	return p.window(cost)
}

func TestPacerOpensUnderSustainedExpensiveRounds(t *testing.T) {
	const cost, limit = 5 * time.Millisecond, 250 * time.Millisecond
	meter, clock := &fakeMeter{idle: 0.02}, newFakeClock()
	p := newPacer(limit, meter)
	start := p.window(cost)
	if start != time.Duration(float64(cost)/DefaultDuty) {
		t.Fatalf("initial window %s, want cost/DefaultDuty", start)
	}
	prev := start
	for range 10 { // one second of saturated CPUs
		w := clock.run(p, PacerPeriod, cost)
		if w < prev || w > limit {
			t.Fatalf("window went from %s to %s (cap %s): want it to open, within the cap", prev, w, limit)
		}
		prev = w
	}
	if want := time.Duration(float64(cost) / minDuty); prev != want {
		t.Fatalf("after 1 s of saturation the window is %s, want %s (the widest the duty allows)", prev, want)
	}
}

func TestPacerClosesWhenLoadFalls(t *testing.T) {
	meter, clock := &fakeMeter{idle: 0}, newFakeClock()
	p := newPacer(time.Second, meter)
	clock.run(p, time.Second, 10*time.Millisecond)
	if d := p.Duty(); d != minDuty {
		t.Fatalf("duty %v after a saturated second, want %v", d, minDuty)
	}
	meter.idle = 0.8 // the load is gone; rounds cost little
	const cheap = 100 * time.Microsecond
	widest := p.window(cheap)
	if w := clock.run(p, 500*time.Millisecond, cheap); w > widest/2 {
		t.Fatalf("window %s half a second after the load fell, want at most half of %s", w, widest)
	}
	if w := clock.run(p, 3*time.Second, cheap); w != cheap {
		t.Fatalf("window %s three seconds after the load fell, want %s (rounds back to back)", w, cheap)
	}
	// Half-way idle: the duty holds where it is.
	meter.idle = (busyIdle + spareIdle) / 2
	before := p.Duty()
	clock.run(p, time.Second, cheap)
	if p.Duty() != before {
		t.Fatalf("duty moved from %v to %v with the CPUs neither saturated nor spare", before, p.Duty())
	}
}

func TestPacerNeverExceedsTheCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, limit := range []time.Duration{time.Millisecond, 20 * time.Millisecond, 250 * time.Millisecond, time.Second} {
		meter, clock := &fakeMeter{}, newFakeClock()
		p := newPacer(limit, meter)
		for range 2000 {
			meter.idle = rng.Float64()
			cost := time.Duration(rng.Int64N(int64(2 * time.Second)))
			last := clock.now
			now := clock.advance(time.Duration(rng.Int64N(int64(PacerPeriod))))
			if w := p.window(cost); w > limit || w < 0 {
				t.Fatalf("cap %s: window %s for cost %s, duty %v", limit, w, cost, p.Duty())
			}
			if wait, _ := p.hold(now, last, cost); wait > limit {
				t.Fatalf("cap %s: held %s", limit, wait)
			}
		}
	}
}

func TestPacerNeverHoldsALoneLine(t *testing.T) {
	for _, tc := range []struct {
		name      string
		idle      float64
		cost      time.Duration
		sinceLast time.Duration // 0: no round ever ran
	}{
		{name: "first round ever", idle: 0, cost: time.Second},
		{name: "after a quiet spell, saturated CPUs, costly rounds", idle: 0, cost: time.Second, sinceLast: 250 * time.Millisecond},
		{name: "after a quiet spell, idle CPUs", idle: 1, cost: time.Millisecond, sinceLast: time.Second},
		{name: "cheap rounds, idle CPUs, just after a round", idle: 1, cost: 0, sinceLast: time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meter, clock := &fakeMeter{idle: tc.idle}, newFakeClock()
			p := newPacer(250*time.Millisecond, meter)
			clock.run(p, 2*time.Second, tc.cost) // let the duty settle
			var last time.Time
			if tc.sinceLast > 0 {
				last = clock.now
			}
			if wait, _ := p.hold(clock.advance(tc.sinceLast), last, tc.cost); wait != 0 {
				t.Fatalf("a lone line was held %s", wait)
			}
		})
	}
}

func TestPacerRevisesOncePerPeriod(t *testing.T) {
	meter, clock := &fakeMeter{idle: 0}, newFakeClock()
	p := newPacer(time.Second, meter)
	for range 1000 { // 1 000 rounds in one period
		p.hold(clock.advance(PacerPeriod/1000), clock.now, time.Millisecond)
	}
	if meter.asked > 2 {
		t.Fatalf("the meter was read %d times in one period", meter.asked)
	}
}

func TestPacerWithoutMeterOrWindow(t *testing.T) {
	clock := newFakeClock()
	fixed := newPacer(time.Second, nil)
	if w := clock.run(fixed, time.Second, time.Millisecond); w != time.Duration(float64(time.Millisecond)/DefaultDuty) {
		t.Fatalf("without a meter the window is %s, want cost/DefaultDuty", w)
	}
	off := newPacer(0, &fakeMeter{})
	if w := off.window(time.Second); w != 0 {
		t.Fatalf("with coalescing off the window is %s", w)
	}
}

// syncMeter is a fakeMeter safe to set from the test while loops read it.
type syncMeter struct{ idle atomic.Uint64 }

func (m *syncMeter) set(idle float64)      { m.idle.Store(math.Float64bits(idle)) }
func (m *syncMeter) Idle() (float64, bool) { return math.Float64frombits(m.idle.Load()), true }

// TestPacerRecoversAfterLoad: after a spell of saturated CPUs and costly
// rounds, a second of no load at all (no rounds, idle CPUs) is enough for
// lines sent 20 ms apart to go out at once again: neither the duty nor the
// round-cost average keeps what the load left (before, both moved only
// one step per round, and lines waited up to the cap).
func TestPacerRecoversAfterLoad(t *testing.T) {
	const limit = 250 * time.Millisecond
	l := newTestLoop(t)
	clock := newManualClock()
	meter := &syncMeter{}
	meter.set(0.02)
	f := newFan(t, Options{Coalesce: limit, Meter: meter, Clock: clock})
	s, r := join(f, l, 1), join(f, l, 2)
	var writeCost atomic.Int64 // what a write to r costs, in fake time
	var arrived []time.Time    // when each of r's writes happened; written on the loop
	r.conn.onWrite = func() {
		clock.advance(time.Duration(writeCost.Load()))
		arrived = append(arrived, clock.Now())
	}
	// send publishes n lines every apart; time moves in small steps so
	// that a held round runs close to when its timer falls due.
	send := func(every time.Duration, n int) (sent []time.Time) {
		const tick = 250 * time.Microsecond
		for range n {
			sent = append(sent, clock.Now())
			l.do(func() { s.Publish([]byte("x")) })
			settle(t, l)
			for range every / tick {
				clock.advance(tick)
				settle(t, l)
			}
		}
		return sent
	}
	// Two seconds of load: every round costs 20 ms, the CPUs are saturated.
	writeCost.Store(int64(20 * time.Millisecond))
	send(10*time.Millisecond, 200)
	if w := f.Stats().Window; w < 100*time.Millisecond {
		t.Fatalf("under load the window is %s: the test does not load the pacer", w)
	}
	// The load ends: a second without anything, the CPUs idle.
	meter.set(0.95)
	writeCost.Store(int64(10 * time.Microsecond))
	clock.advance(time.Second) // a round still held from the load goes on the way
	settle(t, l)
	var before int
	l.do(func() { before = len(arrived) })
	sent := send(20*time.Millisecond, 20)
	var got []time.Time
	l.do(func() { got = append(got, arrived[before:]...) })
	if len(got) != len(sent) {
		t.Fatalf("%d writes for %d lines sent 20 ms apart", len(got), len(sent))
	}
	for i := range sent {
		if wait := got[i].Sub(sent[i]); wait > time.Millisecond {
			t.Errorf("line %d, a second after the load, waited %s (window %s, duty %.3f)", i, wait, f.Stats().Window, f.Stats().Duty)
		}
	}
}
