package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/bwmarrin/snowflake"
)

// Baseline is the tutorial design fanout replaces, kept as the yardstick:
// one goroutine per connection reading with bufio.Scanner, one global map
// under one sync.RWMutex, and for each line a synchronous formatted write
// to every other connection in turn while holding the read lock. It is
// deliberately naive; do not optimise it.
type Baseline struct {
	ln   net.Listener
	ids  *snowflake.Node
	log  *slog.Logger
	wg   sync.WaitGroup
	mu   sync.RWMutex              // the one global lock
	conn map[snowflake.ID]net.Conn // guarded by mu
	// all holds the same connections for Close alone: a writer blocked on a
	// stalled client holds mu's read lock forever, so Close cannot take mu.
	all sync.Map
}

// StartBaseline listens on addr and serves until Close.
func StartBaseline(addr string, log *slog.Logger) (*Baseline, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	ids, _ := snowflake.NewNode(1)
	b := &Baseline{ln: ln, ids: ids, log: log, conn: map[snowflake.ID]net.Conn{}}
	b.wg.Add(1)
	go b.accept()
	return b, nil
}

// Addr is the listening address.
func (b *Baseline) Addr() net.Addr { return b.ln.Addr() }

func (b *Baseline) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.log.Error("baseline accept", "err", err)
			}
			return
		}
		id := b.ids.Generate()
		b.all.Store(id, c)
		b.mu.Lock()
		b.conn[id] = c
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(id, c)
	}
}

func (b *Baseline) serve(id snowflake.ID, c net.Conn) {
	defer b.wg.Done()
	defer func() {
		b.mu.Lock()
		delete(b.conn, id)
		b.mu.Unlock()
		b.all.Delete(id)
		_ = c.Close()
	}()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := sc.Text()
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if line == "" {
			continue
		}
		b.mu.RLock()
		for other, oc := range b.conn {
			if other != id {
				fmt.Fprintf(oc, "%d:%s\r\n", id, line)
			}
		}
		b.mu.RUnlock()
	}
}

// Close stops accepting, closes every connection and waits for the
// goroutines to end.
func (b *Baseline) Close(ctx context.Context) error {
	err := b.ln.Close()
	b.all.Range(func(_, c any) bool {
		_ = c.(net.Conn).Close()
		return true
	})
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}
