package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprint(args...))
}
func (r *recorder) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }

// relay is an in-memory broadcast server for n peers: a line written by
// peer i reaches every other peer as "<id>:<line>", where mangle may
// change what one receiver gets (nil: nothing, true: drop it).
func relay(n int, mangle func(to int, line string) (string, bool)) []Peer {
	inbox := make([]chan string, n)
	for i := range inbox {
		inbox[i] = make(chan string, 1000)
	}
	var mu sync.Mutex // one write at a time: per-sender order
	peers := make([]Peer, n)
	for i := range peers {
		id := fmt.Sprint(100 + i)
		peers[i] = Peer{ID: id,
			Write: func(b []byte) error {
				mu.Lock()
				defer mu.Unlock()
				for _, line := range bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
					for to := range n {
						out, drop := id+":"+string(bytes.TrimSuffix(line, []byte("\n"))), false
						if mangle != nil {
							out, drop = mangle(to, out)
						}
						if to != i && !drop {
							inbox[to] <- out
						}
					}
				}
				return nil
			},
			ReadLine: func(timeout time.Duration) (string, error) {
				select {
				case l := <-inbox[i]:
					return l, nil
				case <-time.After(timeout):
					return "", errors.New("timeout")
				}
			}}
	}
	return peers
}

func TestExchangeCatchesWhatBreaksThePromise(t *testing.T) {
	x := Exchange{Lines: 6, Burst: 4, Quiet: 20 * time.Millisecond}
	cases := []struct {
		name   string
		mangle func(to int, line string) (string, bool)
		fails  bool
	}{
		{name: "a faithful relay", fails: false},
		{name: "a line lost", fails: true, mangle: func(to int, l string) (string, bool) { return l, to == 2 && l == "100:m 0 3" }},
		{name: "a line from another's ID", fails: true, mangle: func(to int, l string) (string, bool) {
			if l == "101:m 1 0" {
				return "102:m 1 0", false
			}
			return l, false
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			x.Run(r, relay(3, tc.mangle))
			if failed := len(r.errs) > 0; failed != tc.fails {
				t.Errorf("reported %q, want failure %t", r.errs, tc.fails)
			}
		})
	}
}
