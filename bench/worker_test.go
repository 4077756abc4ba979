package bench

import (
	"strings"
	"testing"
)

// TestPlans: the clients are split into contiguous ranges covering every
// index once, sizes differ by at most one, and each worker has its own
// loopback source address.
func TestPlans(t *testing.T) {
	cases := []struct {
		name             string
		clients, stalled int
		workers          int
	}{
		{name: "even", clients: 100, workers: 4},
		{name: "uneven", clients: 100003, stalled: 7, workers: 6},
		{name: "one each", clients: 3, workers: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := plans(Workload{Clients: tc.clients, Stalled: tc.stalled}, []string{"a"}, tc.workers)
			next, stalled := 0, 0
			for i, p := range ps {
				if p.Part.Lo != next || p.Part.Hi <= p.Part.Lo {
					t.Fatalf("worker %d has [%d, %d), want to start at %d", i, p.Part.Lo, p.Part.Hi, next)
				}
				if size := p.Part.Hi - p.Part.Lo; size < tc.clients/tc.workers || size > tc.clients/tc.workers+1 {
					t.Fatalf("worker %d has %d clients", i, size)
				}
				if p.Part.Source != int32(i+1) {
					t.Fatalf("worker %d source %d", i, p.Part.Source)
				}
				next, stalled = p.Part.Hi, stalled+p.Part.Stalled
			}
			if next != tc.clients || stalled != tc.stalled {
				t.Fatalf("covered %d clients and %d stalled, want %d and %d", next, stalled, tc.clients, tc.stalled)
			}
		})
	}
}

// TestSplitRefusesWindowAcrossWorkers: an unpaced windowed sender needs
// its acknowledging client in its own worker.
func TestSplitRefusesWindowAcrossWorkers(t *testing.T) {
	w := Workload{Clients: 10, Senders: 5}
	if err := checkSplit(w, plans(w, []string{"a"}, 2)[0]); err == nil || !strings.Contains(err.Error(), "--senders") {
		t.Fatalf("err = %v, want one naming --senders", err)
	}
	w.Rate = 100
	if err := checkSplit(w, plans(w, []string{"a"}, 2)[0]); err != nil {
		t.Fatalf("paced senders refused: %v", err)
	}
}
