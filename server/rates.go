package server

import (
	"sync"
	"time"
)

// rateSpan is how far back /varz's rates look.
const rateSpan = 10 * time.Second

// rateSample is the server's totals at one moment.
type rateSample struct {
	at                                     time.Time
	linesIn, deliveries, bytesIn, bytesOut uint64
}

// rateWindow keeps the totals of the last rateSpan, one sample a second.
// Safe for concurrent use: the reclaimer goroutine adds, /varz reads.
type rateWindow struct {
	mu      sync.Mutex
	samples []rateSample // guarded by mu; oldest first, at most rateSpan/time.Second+1
}

func (w *rateWindow) add(s rateSample) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples = append(w.samples, s)
	if n := int(rateSpan/time.Second) + 1; len(w.samples) > n {
		w.samples = append(w.samples[:0], w.samples[len(w.samples)-n:]...)
	}
}

// rates returns per-second rates between the oldest and newest samples.
func (w *rateWindow) rates() map[string]float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]float64{"lines_in": 0, "deliveries": 0, "bytes_in": 0, "bytes_out": 0}
	if len(w.samples) < 2 {
		return out
	}
	a, b := w.samples[0], w.samples[len(w.samples)-1]
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return out
	}
	out["lines_in"] = float64(b.linesIn-a.linesIn) / secs
	out["deliveries"] = float64(b.deliveries-a.deliveries) / secs
	out["bytes_in"] = float64(b.bytesIn-a.bytesIn) / secs
	out["bytes_out"] = float64(b.bytesOut-a.bytesOut) / secs
	return out
}
