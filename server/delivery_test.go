package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// The delivery path under adversarial clients, in sizes that run in
// seconds: nobody who reads is cut, those who do not read are cut for the
// right reason, and the shared log stays under a stated bound.

// blast writes lines "<tag> <seq> <pad>\n" for seq in [0, n) to c as fast
// as the socket takes them, in 64 KiB writes, and returns the first error.
func blast(c net.Conn, tag string, n, pad int) error {
	padding := strings.Repeat("p", pad)
	buf := make([]byte, 0, 64<<10)
	for i := range n {
		buf = fmt.Appendf(buf, "%s %d %s\n", tag, i, padding)
		if len(buf) > 60<<10 || i == n-1 {
			if _, err := c.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// streamCheck reads lines from r until want lines of each tag arrived (or
// an error) and checks each tag's lines come once, in order.
func streamCheck(r io.Reader, want map[string]int, timeout time.Duration, c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(r, 256<<10)
	next := map[string]int{}
	left := 0
	for _, n := range want {
		left += n
	}
	for left > 0 {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("after %d lines (%v short): %w", sum(next), left, err)
		}
		_, body, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.HasSuffix(body, []byte("\r\n")) {
			return fmt.Errorf("malformed line %.40q", line)
		}
		fields := bytes.SplitN(body, []byte(" "), 3)
		tag := string(fields[0])
		var seq int
		if _, err := fmt.Sscan(string(fields[1]), &seq); err != nil {
			return fmt.Errorf("bad sequence in %.40q", line)
		}
		if seq != next[tag] {
			return fmt.Errorf("from %s: line %d, want %d (lost or duplicated)", tag, seq, next[tag])
		}
		next[tag]++
		left--
	}
	return nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// readAllLines runs streamCheck on each client in its own goroutine and
// returns their errors.
func readAllLines(clients []*testClient, want map[string]int, timeout time.Duration) []error {
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = streamCheck(c.r, want, timeout, c.conn)
		}()
	}
	wg.Wait()
	return errs
}

// TestBurstCutsNoReader: one sender writes a burst four times --max-lag in
// one go, then leaves; every reader gets every line once, in order, and
// nobody is cut, the sender included.
func TestBurstCutsNoReader(t *testing.T) {
	needsReadPause(t)
	const readers, lines, pad = 20, 4000, 1000 // ~4 MiB
	s, _ := startServer(t, Config{MaxLag: 1 << 20})
	sender := dial(t, s)
	rs := make([]*testClient, readers)
	for i := range rs {
		rs[i] = dial(t, s)
	}
	waitOpen(t, s, readers+1)
	s.fan.TakePeakLogBytes()
	sent := make(chan error, 1)
	go func() {
		err := blast(sender.conn, "b", lines, pad)
		_ = sender.conn.CloseWrite() // lines held back must still go out
		sent <- err
	}()
	for i, err := range readAllLines(rs, map[string]int{"b": lines}, 30*time.Second) {
		if err != nil {
			t.Errorf("reader %d: %v", i, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
	if n := s.closed[ReasonSlowConsumer].Load(); n != 0 {
		t.Fatalf("%d clients cut for a burst", n)
	}
	st := s.fan.Stats()
	t.Logf("peak log %d bytes, congestions %d", s.fan.TakePeakLogBytes(), st.Congestions)
}

// TestStalledClientsAreCutReadersAreNot: clients that never read are cut
// (deadline or lag), readers and senders that read are not, every line
// reaches every reader once and in order, and the shared log never holds
// much more than --max-lag however many clients stall.
func TestStalledClientsAreCutReadersAreNot(t *testing.T) {
	needsReadPause(t)
	const stalled, readers, senders, lines, pad = 50, 3, 2, 6000, 500
	const maxLag = 1 << 20
	s, logs := startServer(t, Config{MaxLag: maxLag, WriteDeadline: 500 * time.Millisecond})
	var stuck []*testClient
	for range stalled {
		c := dial(t, s)
		_ = c.conn.SetReadBuffer(4096) // the kernel absorbs little for it
		stuck = append(stuck, c)
	}
	var rs []*testClient
	for range readers + senders {
		rs = append(rs, dial(t, s))
	}
	waitOpen(t, s, stalled+readers+senders)
	s.fan.TakePeakLogBytes()
	want := map[string]int{}
	sendErrs := make(chan error, senders)
	for i := range senders {
		tag := fmt.Sprintf("s%d", i)
		want[tag] = lines
		go func() { sendErrs <- blast(rs[readers+i].conn, tag, lines, pad) }()
	}
	// Each sender reads everyone's lines but its own.
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, c := range rs {
		mine := map[string]int{}
		for tag, n := range want {
			if tag != fmt.Sprintf("s%d", i-readers) {
				mine[tag] = n
			}
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = streamCheck(c.r, mine, 60*time.Second, c.conn) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d (reads): %v", i, err)
		}
	}
	for range senders {
		if err := <-sendErrs; err != nil {
			t.Errorf("sender: %v", err)
		}
	}
	waitFor(t, "the stalled clients to be cut", func() bool { return s.closed[ReasonSlowConsumer].Load() == stalled })
	waitOpen(t, s, readers+senders)
	if peak := s.fan.TakePeakLogBytes(); peak > 4*maxLag {
		t.Errorf("the log held %d bytes at its peak, want at most 4 × --max-lag (%d)", peak, 4*maxLag)
	}
	if !strings.Contains(logs.String(), "disconnecting slow consumer") {
		t.Error("no log line for the cut clients")
	}
	_ = stuck // their sockets stay open on this side; the server closed its end
}

// needsReadPause skips a test whose promise rests on holding senders back,
// in a build that cannot pause reading sockets (see readpause_portable.go).
func needsReadPause(t *testing.T) {
	t.Helper()
	if !readPauseSupported {
		t.Skip("needs a read pause (Linux): without one, readers more than --max-lag behind are cut instead")
	}
}
