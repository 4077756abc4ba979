package testutil

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Peer is one client of an Exchange, as the test that dialled it sees it.
type Peer struct {
	// Write sends bytes on the client's connection.
	Write func(b []byte) error
	// ReadLine returns the next line the client received, "<id>:<body>"
	// without its line end, waiting at most timeout; with an error, what
	// part of a line had come.
	ReadLine func(timeout time.Duration) (string, error)
	// ID is the server's ID for the client; "" when not known. Given for
	// every peer, each line's ID must be its sender's.
	ID string
}

// Exchange checks the broadcast promise: every line reaches every other
// client exactly once, in per-sender order, and never its sender.
type Exchange struct {
	Lines int           // lines each peer sends, "m <peer> <n>"
	Burst int           // lines per write, so the server sees lines split and batched
	Quiet time.Duration // how long each peer must then get nothing more
}

// lineWait bounds the wait for each line of an exchange.
const lineWait = 10 * time.Second

// Run has every peer send x.Lines lines while every peer reads, and fails
// t for each peer that misses a line, gets one twice, out of its sender's
// order, with another's ID or its own, or gets anything after the last.
func (x Exchange) Run(t testing.TB, peers []Peer) {
	t.Helper()
	senderOf := map[string]int{}
	for i, p := range peers {
		if p.ID != "" {
			senderOf[p.ID] = i
		}
	}
	byID := len(senderOf) == len(peers)
	var wg sync.WaitGroup
	errs := make(chan error, len(peers)*2)
	for i, p := range peers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := x.send(p, i); err != nil {
				errs <- fmt.Errorf("peer %d: write: %w", i, err)
			}
		}()
		go func() {
			defer wg.Done()
			next := make([]int, len(peers))
			for got := 0; got < (len(peers)-1)*x.Lines; got++ {
				line, err := p.ReadLine(lineWait)
				if err != nil {
					errs <- fmt.Errorf("peer %d after %d lines: %w", i, got, err)
					return
				}
				id, body, _ := strings.Cut(line, ":")
				from, n, ok := parseExchangeLine(body)
				if !ok || from >= len(peers) {
					errs <- fmt.Errorf("peer %d: got %q, not a line of the exchange", i, line)
					return
				}
				if by, known := senderOf[id]; byID && (!known || by != from) {
					errs <- fmt.Errorf("peer %d: got %q, whose ID is not its sender's", i, line)
					return
				}
				if from == i || n != next[from] {
					errs <- fmt.Errorf("peer %d: got %q, want line %d of peer %d (own, lost, doubled or reordered)", i, line, next[from], from)
					return
				}
				next[from]++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, p := range peers {
		if line, err := p.ReadLine(x.Quiet); err == nil || line != "" {
			t.Errorf("peer %d got more after the last line: %q", i, line)
		}
	}
}

// send writes peer i's lines, x.Burst to a write.
func (x Exchange) send(p Peer, i int) error {
	var b []byte
	for n := range x.Lines {
		b = fmt.Appendf(b, "m %d %d\n", i, n)
		if (n+1)%max(x.Burst, 1) == 0 || n == x.Lines-1 {
			if err := p.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	return nil
}

// parseExchangeLine reads "m <peer> <n>", as send writes it.
func parseExchangeLine(body string) (from, n int, ok bool) {
	rest, ok := strings.CutPrefix(body, "m ")
	a, b, ok2 := strings.Cut(rest, " ")
	from, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	return from, n, ok && ok2 && err1 == nil && err2 == nil && from >= 0
}
