package shard

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// testLoop is a stand-in event loop: one goroutine running tasks in order.
type testLoop struct {
	mu      sync.Mutex
	queue   []gnet.Runnable // guarded by mu
	running bool            // guarded by mu: a task is being run
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func newTestLoop(t testing.TB) *testLoop {
	l := &testLoop{wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	t.Cleanup(func() { close(l.quit); <-l.done })
	return l
}

func (l *testLoop) Execute(_ context.Context, r gnet.Runnable) error {
	l.mu.Lock()
	l.queue = append(l.queue, r)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

func (l *testLoop) run() {
	defer close(l.done)
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			select {
			case <-l.wake:
				continue
			case <-l.quit:
				return
			}
		}
		r := l.queue[0]
		l.queue = l.queue[1:]
		l.running = true
		l.mu.Unlock()
		_ = r.Run(context.Background())
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
	}
}

// do runs fn on the loop and waits for it.
func (l *testLoop) do(fn func()) {
	done := make(chan struct{})
	_ = l.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		close(done)
		return nil
	}))
	<-done
}

func (l *testLoop) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue) == 0 && !l.running
}

// settle waits until no loop has work left (tasks may beget tasks).
func settle(t testing.TB, loops ...*testLoop) {
	t.Helper()
	for stable := 0; stable < 3; {
		all := true
		for _, l := range loops {
			l.do(func() {})
			all = all && l.idle()
		}
		if all {
			stable++
		} else {
			stable = 0
		}
	}
}

// testConn records what the fan-out writes to it. By default it takes
// every write whole; with a budget it takes at most that many bytes in
// all until given more (a full socket), and with fail set it refuses.
type testConn struct {
	mu      sync.Mutex
	buf     bytes.Buffer // guarded by mu
	writes  int          // guarded by mu: Writev calls that took bytes or failed
	limited bool         // guarded by mu: budget applies
	budget  int          // guarded by mu: bytes it takes before it is "full"
	perCall int          // guarded by mu: at most this many bytes per call (0: no cap)
	fail    error        // guarded by mu: returned by every write
	onWrite func()       // runs inside each write, on the loop
}

func (c *testConn) Writev(bs [][]byte) (int, error) {
	c.mu.Lock()
	if c.fail != nil {
		c.writes++
		c.mu.Unlock()
		return 0, c.fail
	}
	n := 0
	for _, b := range bs {
		take := len(b)
		if c.limited {
			take = min(take, c.budget-n)
		}
		if c.perCall > 0 {
			take = min(take, c.perCall-n)
		}
		c.buf.Write(b[:take])
		n += take
		if take < len(b) {
			break
		}
	}
	if c.limited {
		c.budget -= n
	}
	if n > 0 {
		c.writes++
	}
	fn := c.onWrite
	c.mu.Unlock()
	if fn != nil {
		fn()
	}
	return n, nil
}

// limit makes the connection take at most budget more bytes.
func (c *testConn) limit(budget int) {
	c.mu.Lock()
	c.limited, c.budget = true, budget
	c.mu.Unlock()
}

// unlimit lets the connection take everything again.
func (c *testConn) unlimit() {
	c.mu.Lock()
	c.limited = false
	c.mu.Unlock()
}

func (c *testConn) stats() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.writes
}
