package bench

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/server"
)

// TestReadBudgetNeverOverspends: however irregular the times it is asked
// at, the bucket hands out at most its limit plus rate × elapsed.
func TestReadBudgetNeverOverspends(t *testing.T) {
	cases := []struct {
		name   string
		rate   float64
		window time.Duration
		step   func(*rand.Rand) time.Duration
	}{
		{name: "regular ticks", rate: 1e6, window: 50 * time.Millisecond, step: func(*rand.Rand) time.Duration { return 5 * time.Millisecond }},
		{name: "late ticks", rate: 1e6, window: 50 * time.Millisecond, step: func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(300)) * time.Millisecond }},
		{name: "tiny rate", rate: 3, window: 50 * time.Millisecond, step: func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(20)) * time.Millisecond }},
		{name: "clock standing still", rate: 1e7, window: 10 * time.Millisecond, step: func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(2)) * time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			start := time.Unix(1000, 0)
			b := newReadBudget(tc.rate, tc.window, start)
			now, spent := start, 0
			for range 10000 {
				now = now.Add(tc.step(rng))
				n := b.available(now)
				take := n
				if n > 0 {
					take = rng.IntN(n + 1) // a read may return less than asked
				}
				b.spend(take)
				spent += take
				if bound := b.limit + tc.rate*now.Sub(start).Seconds(); float64(spent) > bound+1e-6 {
					t.Fatalf("spent %d bytes by %s, more than %g", spent, now.Sub(start), bound)
				}
			}
			if spent == 0 {
				t.Fatal("the bucket never gave anything")
			}
		})
	}
}

// TestSlowReaderIsPaced: a slow reader reads no faster than its rate
// (within one bucket, over the whole run), while the publisher sends well
// above it; the fast readers' account does not include it.
func TestSlowReaderIsPaced(t *testing.T) {
	const rate = 100_000 // bytes/s; the publisher sends ~2 MB/s
	w := Workload{Clients: 4, Senders: 1, Rate: 2000, Size: 1000, SlowReaders: 1, SlowReadRate: rate, Duration: 1500 * time.Millisecond}
	res, err := Run(context.Background(), startFanout(t), w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SlowReadRates) != 1 || res.SlowReceived == 0 {
		t.Fatalf("slow reader rates %v, received %d: it did not read", res.SlowReadRates, res.SlowReceived)
	}
	// It read at most rate × t plus one bucket, over t ≥ the run's duration.
	if got, bound := res.SlowReadRates[0], rate+rate*slowBurst.Seconds()/w.Duration.Seconds(); got > bound {
		t.Errorf("the slow reader read %.0f B/s, more than its %d B/s (bound %.0f)", got, rate, bound)
	}
	if res.SlowReadersCut != 0 || res.ReadersCut != 0 || res.SendersCut != 0 {
		t.Errorf("cut: slow %d, readers %d, senders %d", res.SlowReadersCut, res.ReadersCut, res.SendersCut)
	}
	if want := res.LinesSent * 2; res.DeliveriesExpected != want { // the two fast readers only
		t.Errorf("expected deliveries %d, want %d (lines sent × fast readers)", res.DeliveriesExpected, want)
	}
	if res.Lost != 0 || res.Received != res.DeliveriesExpected || res.Duplicates != 0 || res.ReadErrors != 0 {
		t.Errorf("fast readers: lost %d, received %d of %d, duplicates %d, read errors %d (%s)",
			res.Lost, res.Received, res.DeliveriesExpected, res.Duplicates, res.ReadErrors, res.FirstReadError)
	}
	if len(res.SentTimeline) == 0 || res.SentMBPerSec <= 0 {
		t.Errorf("sent timeline %v, sent MB/s %g", res.SentTimeline, res.SentMBPerSec)
	}
}

// TestSlowReaderCutIsAccountedApart: a server that cuts a slow reader
// (a tight --max-lag and --write-deadline) shows it as a slow reader cut,
// with the time of the cut; the lines it missed are its own loss, not the
// fast readers', and its reset is not a read error.
func TestSlowReaderCutIsAccountedApart(t *testing.T) {
	// A fast reader is cut only if it takes nothing for a second or falls
	// 1 MiB (half a second of the publisher's lines) behind.
	target := startFanoutWith(t, server.Config{MaxLag: 1 << 20, WriteDeadline: time.Second})
	w := Workload{Clients: 5, Senders: 1, Rate: 2000, Size: 1000, SlowReaders: 1, SlowReadRate: 5_000, Duration: 8 * time.Second}
	res, err := Run(context.Background(), target, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.SlowReadersCut != 1 || len(res.SlowCutAfterSeconds) != 1 || res.SlowCutAfterSeconds[0] <= 0 ||
		res.SlowCutLastSeconds != res.SlowCutAfterSeconds[0] {
		t.Fatalf("slow readers cut %d at %v (last %g), want 1 with its time", res.SlowReadersCut, res.SlowCutAfterSeconds, res.SlowCutLastSeconds)
	}
	t.Logf("slow reader cut after %.2fs", res.SlowCutLastSeconds)
	if res.SlowLost == 0 {
		t.Error("the cut slow reader lost nothing")
	}
	if res.Lost != 0 || res.Received != res.DeliveriesExpected || res.ReadersCut != 0 || res.SendersCut != 0 {
		t.Errorf("fast readers: lost %d, received %d of %d, readers cut %d, senders cut %d",
			res.Lost, res.Received, res.DeliveriesExpected, res.ReadersCut, res.SendersCut)
	}
	if res.ReadErrors != 0 {
		t.Errorf("read errors %d (%s): a cut is not a read error", res.ReadErrors, res.FirstReadError)
	}
	if res.SentAfterCutSeconds > 0 && res.SentPerSecAfterCut <= 0 {
		t.Errorf("sent rate after the cut %g over %d s", res.SentPerSecAfterCut, res.SentAfterCutSeconds)
	}
}

// TestFileCloseWrite: a sender that writes its whole burst and shuts its
// side is not counted as cut, and every reader gets every line.
func TestFileCloseWrite(t *testing.T) {
	w := Workload{Clients: 4, Senders: 1, Size: 1000, Blast: true, Burst: 2 << 20, CloseWrite: true, Duration: time.Second, Drain: 20 * time.Second}
	res, err := Run(context.Background(), startFanout(t), w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64((w.Burst + w.Size) / (w.Size + 1)); res.LinesSent != want {
		t.Errorf("sent %d lines, want the whole burst's %d", res.LinesSent, want)
	}
	if res.SendersClosed != 1 || res.SendersCut != 0 {
		t.Errorf("senders closed %d, cut %d; want 1 closed, none cut", res.SendersClosed, res.SendersCut)
	}
	if res.Lost != 0 || res.Received != res.DeliveriesExpected || res.ReadersCut != 0 {
		t.Errorf("lost %d, received %d of %d, readers cut %d", res.Lost, res.Received, res.DeliveriesExpected, res.ReadersCut)
	}
}

// TestProbeReportsLatency: with --after, a probe runs on the idle server
// before the load and again after it, and reports every line's latency.
func TestProbeReportsLatency(t *testing.T) {
	w := Workload{Clients: 4, Senders: 2, Rate: 200, Size: 64, Duration: 500 * time.Millisecond, After: 100 * time.Millisecond}
	res, err := Run(context.Background(), startFanout(t), w, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name  string
		probe *Probe
	}{{name: "before", probe: res.ProbeBefore}, {name: "after", probe: res.ProbeAfter}} {
		switch pr := p.probe; {
		case pr == nil:
			t.Errorf("no probe %s", p.name)
		case pr.Error != "" || pr.Lines != probeLines || pr.Received != probeLines:
			t.Errorf("probe %s: %d of %d lines received (%s)", p.name, pr.Received, pr.Lines, pr.Error)
		case pr.P50Ms <= 0 || pr.P99Ms < pr.P50Ms || pr.MaxMs < pr.P99Ms:
			t.Errorf("probe %s: p50 %g, p99 %g, max %g ms", p.name, pr.P50Ms, pr.P99Ms, pr.MaxMs)
		}
	}
}

// TestProbeNamesAFailure: a probe that cannot reach its server says why
// instead of failing the run's other figures.
func TestProbeNamesAFailure(t *testing.T) {
	p := runProbe(context.Background(), Target{Addrs: []string{"127.0.0.1:1"}}, "")
	if p.Error == "" || p.Received != 0 {
		t.Fatalf("probe of a closed port: %+v", p)
	}
}

func TestRateAfter(t *testing.T) {
	cases := []struct {
		name     string
		timeline []float64
		from     float64
		want     float64
		seconds  int
	}{
		{name: "from a whole second", timeline: []float64{1, 2, 10, 20}, from: 2, want: 15, seconds: 2},
		{name: "rounds up", timeline: []float64{1, 2, 10, 20}, from: 1.2, want: 15, seconds: 2},
		{name: "nothing left", timeline: []float64{1, 2}, from: 2.5, want: 0, seconds: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, n := rateAfter(tc.timeline, tc.from); got != tc.want || n != tc.seconds {
				t.Fatalf("rateAfter = %g over %d s, want %g over %d", got, n, tc.want, tc.seconds)
			}
		})
	}
}

func TestWorkloadValidate(t *testing.T) {
	ok := Workload{Clients: 12, Senders: 1, Blast: true, Size: 1000, Duration: time.Second}
	cases := []struct {
		name    string
		change  func(*Workload)
		wantErr string
	}{
		{name: "slow readers", change: func(w *Workload) { w.SlowReaders, w.SlowReadRate = 1, 1e6 }},
		{name: "negative slow readers", change: func(w *Workload) { w.SlowReaders = -1 }, wantErr: "--slow-readers"},
		{name: "slow readers among the senders", change: func(w *Workload) { w.SlowReaders = 12 }, wantErr: "--slow-readers"},
		{name: "negative slow rate", change: func(w *Workload) { w.SlowReaders, w.SlowReadRate = 1, -5 }, wantErr: "--slow-read-rate"},
		{name: "no fast witness", change: func(w *Workload) { w.Blast, w.SlowReaders = false, 11 }, wantErr: "acknowledge"},
		{name: "close write without burst", change: func(w *Workload) { w.CloseWrite = true }, wantErr: "--close-write"},
		{name: "close write with burst", change: func(w *Workload) { w.CloseWrite, w.Burst = true, 1<<20 }},
		{name: "receive buffer", change: func(w *Workload) { w.RcvBuf = 256 << 10 }},
		{name: "tiny receive buffer", change: func(w *Workload) { w.RcvBuf = 100 }, wantErr: "--rcvbuf"},
		{name: "negative receive buffer", change: func(w *Workload) { w.RcvBuf = -1 }, wantErr: "--rcvbuf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := ok
			tc.change(&w)
			err := w.withDefaults().Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}
