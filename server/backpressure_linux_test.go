//go:build linux && !fanout_portable

package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout/fanout/shard"
)

// Back-pressure through TCP (readpause_linux.go): while a reader that
// reads holds senders back, the server really stops reading a sender's
// socket: its bytes wait in the kernel, its writes block, and nothing it
// sends reaches the server's buffers (its writes block once the kernel's
// buffers are full); once the reader catches up, reading
// resumes and every line arrives, once, in order. On every kind of
// listener. If a gnet upgrade changed how it registers sockets, the pause
// would not be found and this test fails.
func TestHeldSenderIsNotRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		dial  func(t *testing.T, s *Server) net.Conn
		proxy bool
		ws    bool // the sender is a WebSocket client, its lines in binary messages
	}{
		{name: "tcp", dial: func(t *testing.T, s *Server) net.Conn { return dialNet(t, "tcp", s.Addr().String()) }},
		{name: "unix", cfg: Config{Addr: "unix://" + filepath.Join(t.TempDir(), "f.sock")},
			dial: func(t *testing.T, s *Server) net.Conn { return dialNet(t, "unix", s.Addr().String()) }},
		{name: "proxy", cfg: Config{ProxyProtocol: true}, proxy: true,
			dial: func(t *testing.T, s *Server) net.Conn { return dialNet(t, "tcp", s.Addr().String()) }},
		{name: "ws", cfg: Config{WSConfig: WSConfig{WSAddr: "127.0.0.1:0"}}, ws: true,
			dial: func(t *testing.T, s *Server) net.Conn { return dialNet(t, "tcp", s.Addr().String()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			// A reader that reads slowly is flagged, holds the sender, and
			// is neither cut nor let go during the test.
			cfg.MaxLag, cfg.WriteDeadline, cfg.SlowReader = 1<<20, time.Minute, SlowReaderPace
			s, _ := startServer(t, cfg)
			reader := tc.dial(t, s)
			var sender net.Conn
			if tc.ws {
				sender = wsFrames{upgradeRaw(t, s).conn}
			} else {
				sender = tc.dial(t, s)
			}
			if tc.proxy {
				for i, c := range []net.Conn{reader, sender} {
					if _, err := fmt.Fprintf(c, "PROXY TCP4 10.0.0.%d 10.9.9.9 4000 8888\r\n", i+1); err != nil {
						t.Fatal(err)
					}
				}
			}
			waitOpen(t, s, 2)
			if uc, ok := reader.(interface{ SetReadBuffer(int) error }); ok {
				_ = uc.SetReadBuffer(16 << 10)
			}

			const lines, pad = 8000, 1000 // 8 MB: far more than kernel buffers absorb
			var written atomic.Int64
			sent := make(chan error, 1)
			go func() {
				err := blastCounted(sender, "h", lines, pad, &written)
				if cw, ok := sender.(interface{ CloseWrite() error }); ok && err == nil {
					err = cw.CloseWrite()
				}
				sent <- err
			}()

			// The reader trickles: 4 KiB every 10 ms, until told to hurry.
			hurry := make(chan struct{})
			got := make(chan error, 1)
			go func() { got <- readLinesPaced(reader, "h", lines, hurry) }()

			// Look at the server's reads through windows in which the hold
			// lasted throughout (no new hold began: a reader that seemed to
			// stall for a moment lets the sender go, and it is held again).
			// In such a window the server reads nothing from the sender, and
			// the sender's writes are blocked with its bytes in the kernel.
			clean := false
			for try := 0; try < 20 && !clean; try++ {
				waitHeld(t, s)
				holds, in0, w0 := s.fan.Stats().Congestions, s.snapshot().BytesIn, written.Load()
				time.Sleep(300 * time.Millisecond)
				if st := s.fan.Stats(); st.Congestions != holds || !st.Congested || st.Held != 1 {
					continue // the hold lifted meanwhile: look again
				}
				clean = true
				in1, w1 := s.snapshot().BytesIn, written.Load()
				switch {
				case in1 != in0:
					t.Fatalf("the server read %d bytes from a sender held throughout", in1-in0)
				case w1 <= int64(in1):
					t.Fatalf("the sender wrote %d bytes, the server read %d: want bytes waiting in the kernel", w1, in1)
				}
				t.Logf("held for 300 ms: the server read nothing; the kernel holds %d bytes of the sender's (%d written meanwhile)",
					w1-int64(in1), w1-w0)
			}
			if !clean {
				t.Fatal("no hold lasted 300 ms in 20 tries")
			}
			close(hurry)
			if err := <-got; err != nil {
				t.Fatalf("reader: %v", err)
			}
			if err := <-sent; err != nil {
				t.Fatalf("sender: %v", err)
			}
			if n := s.closed[ReasonSlowConsumer].Load(); n != 0 {
				t.Errorf("%d clients cut", n)
			}
			waitFor(t, "the hold to end", func() bool { st := s.fan.Stats(); return !st.Congested && st.Held == 0 })
		})
	}
}

func dialNet(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// blastCounted is blast, counting the bytes the socket took in written.
func blastCounted(c net.Conn, tag string, n, pad int, written *atomic.Int64) error {
	padding := strings.Repeat("p", pad)
	buf := make([]byte, 0, 64<<10)
	for i := range n {
		buf = fmt.Appendf(buf, "%s %d %s\n", tag, i, padding)
		if len(buf) > 60<<10 || i == n-1 {
			_ = c.SetWriteDeadline(time.Now().Add(time.Minute))
			k, err := c.Write(buf)
			written.Add(int64(k))
			if err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// readLinesPaced reads want lines of tag, once each and in order: 4 KiB
// every 10 ms until hurry closes, then as fast as they come.
func readLinesPaced(c net.Conn, tag string, want int, hurry <-chan struct{}) error {
	br := bufio.NewReaderSize(&pacedReader{c: c, hurry: hurry}, 4<<10)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	for next := 0; next < want; next++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("after %d lines: %w", next, err)
		}
		var seq int
		_, body, _ := strings.Cut(line, ":")
		if _, err := fmt.Sscanf(body, tag+" %d", &seq); err != nil || seq != next {
			return fmt.Errorf("got %.40q, want line %d", line, next)
		}
	}
	return nil
}

// pacedReader reads at most 4 KiB per 10 ms until hurry closes.
type pacedReader struct {
	c     net.Conn
	hurry <-chan struct{}
}

func (p *pacedReader) Read(b []byte) (int, error) {
	select {
	case <-p.hurry:
	default:
		time.Sleep(10 * time.Millisecond)
		b = b[:min(len(b), 4<<10)]
	}
	return p.c.Read(b)
}

// TestLinesReadBeforeTheEndAreRelayed: every whole line the server read
// from a sender reaches the reader, once and in order, however the sender
// ends — it closes, it resets, or it is kicked — and whether its socket
// was being read or held at the time. A held sender that closes has all
// it wrote relayed once the hold lifts (its bytes waited in the kernel);
// one that resets or is kicked has what the server had read.
func TestLinesReadBeforeTheEndAreRelayed(t *testing.T) {
	const lines, pad = 8000, 1000 // 8 MB: more than kernel buffers absorb, so a slow reader holds the sender
	for _, held := range []bool{false, true} {
		for _, end := range []string{"close", "reset", "kick"} {
			t.Run(fmt.Sprintf("%s held=%t", end, held), func(t *testing.T) {
				s, _ := startServer(t, Config{MaxLag: 1 << 20, WriteDeadline: time.Minute, SlowReader: SlowReaderPace,
					MetricsAddr: "127.0.0.1:0", AdminToken: "tok"})
				reader := dialNet(t, "tcp", s.Addr().String())
				sender := dialNet(t, "tcp", s.Addr().String()).(*net.TCPConn)
				waitOpen(t, s, 2)
				_ = reader.(*net.TCPConn).SetReadBuffer(16 << 10)
				hurry := make(chan struct{})
				if !held {
					close(hurry)
				}
				var got atomic.Int64 // lines the reader checked
				senderID := make(chan string, 1)
				readErr := make(chan error, 1)
				go func() { readErr <- countLines(reader, "e", hurry, &got, senderID) }()
				var written atomic.Int64
				wrote := make(chan error, 1)
				go func() { wrote <- blastCounted(sender, "e", lines, pad, &written) }()
				if held {
					waitHeld(t, s)
				} else {
					if err := <-wrote; err != nil {
						t.Fatalf("sender: %v", err)
					}
				}
				id := <-senderID
				switch end {
				case "close":
					_ = sender.CloseWrite() // a blocked write still in progress fails; what the kernel took stays
				case "reset":
					_ = sender.SetLinger(0)
					_ = sender.Close()
				case "kick":
					if code, body := control(t, s, "DELETE", "/connz/"+id, "tok"); code != 200 {
						t.Fatalf("kick: %d %v", code, body)
					}
				}
				close(hurryOnce(hurry, held))
				waitOpen(t, s, 1) // the sender is gone from the server
				read := s.fan.Stats().Frames
				want := int64(read)
				if end == "close" && !held {
					want = lines // nothing was left unread
				}
				waitFor(t, "the reader to get every line read", func() bool { return got.Load() >= want })
				_ = reader.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if err := <-readErr; err != nil {
					t.Fatalf("reader: %v", err)
				}
				if got.Load() != want {
					t.Fatalf("the reader got %d lines; the server read %d from the sender", got.Load(), read)
				}
				if held && end == "close" {
					// Everything the kernel took was read once the hold
					// lifted, the last line cut short by the close included
					// (a line ended by EOF is relayed).
					<-wrote
					whole, partial := wholeLines(written.Load(), pad)
					if partial {
						whole++
					}
					if int64(read) != whole {
						t.Fatalf("a held sender closed after its socket took %d lines; the server read %d", whole, read)
					}
				}
				if n := s.closed[ReasonSlowConsumer].Load(); n != 0 {
					t.Errorf("%d clients cut", n)
				}
			})
		}
	}
}

// hurryOnce returns a channel to close: hurry itself while it is still
// open (held), else a fresh one.
func hurryOnce(hurry chan struct{}, held bool) chan struct{} {
	if held {
		return hurry
	}
	return make(chan struct{})
}

// countLines reads tag's lines in order through a pacedReader, counting
// them in got, until the connection ends or a read times out; it sends the
// sender's ID (the prefix of the first line) on id.
func countLines(c net.Conn, tag string, hurry <-chan struct{}, got *atomic.Int64, id chan<- string) error {
	br := bufio.NewReaderSize(&pacedReader{c: c, hurry: hurry}, 4<<10)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	for next := 0; ; next++ {
		line, err := br.ReadString('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return nil // nothing more came
			}
			return fmt.Errorf("after %d lines: %w", next, err)
		}
		prefix, body, _ := strings.Cut(line, ":")
		if next == 0 {
			id <- prefix
		}
		var seq int
		if _, err := fmt.Sscanf(body, tag+" %d", &seq); err != nil || seq != next {
			return fmt.Errorf("got %.40q, want line %d", line, next)
		}
		got.Add(1)
	}
}

// wholeLines counts the lines blastCounted wrote whole in its first n
// bytes, and says whether part of one more follows.
func wholeLines(n int64, pad int) (whole int64, partial bool) {
	for i := 0; ; i++ {
		size := int64(len(fmt.Sprintf("e %d ", i)) + pad + 1)
		if n < size {
			return whole, n > 0
		}
		n -= size
		whole++
	}
}

// waitHeld waits until the one sender of the test is held; it fails at
// once if the slow reader that should hold it was cut instead.
func waitHeld(t *testing.T, s *Server) {
	t.Helper()
	waitFor(t, "the sender to be held", func() bool {
		if n := s.closed[ReasonSlowConsumer].Load(); n > 0 {
			t.Fatalf("%d clients cut as slow consumers: the reader could not hold the sender", n)
		}
		st := s.fan.Stats()
		return st.Congested && st.Held == 1
	})
}

// TestPauseOutlivesTheClient: a held sender that leaves is never resumed
// (its descriptor number goes to the next connection, which must not have
// its reads paused or resumed for it), and a client that connects while
// senders are held is held too once it sends, then resumed with the rest.
func TestPauseOutlivesTheClient(t *testing.T) {
	const lines, pad = 8000, 1000
	s, _ := startServer(t, Config{MaxLag: 1 << 20, WriteDeadline: time.Minute, SlowReader: SlowReaderPace})
	reader := dialNet(t, "tcp", s.Addr().String())
	a := dialNet(t, "tcp", s.Addr().String()).(*net.TCPConn)
	waitOpen(t, s, 2)
	_ = reader.(*net.TCPConn).SetReadBuffer(16 << 10)
	hurry := make(chan struct{})
	var got atomic.Int64
	ids := make(chan string, 1)
	readErr := make(chan error, 1)
	go func() { readErr <- countLines(reader, "a", hurry, &got, ids) }()
	var written atomic.Int64
	go func() { _ = blastCounted(a, "a", lines, pad, &written) }()
	waitHeld(t, s)
	fdOf := func(id string) int {
		var n int64
		_, _ = fmt.Sscan(id, &n)
		fd := -1
		if _, err := s.fan.Visit(t.Context(), n, func(m *shard.Member) { fd = m.Value.(*client).conn.Fd() }); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	aID := <-ids
	aFD := fdOf(aID)
	_ = a.SetLinger(0)
	_ = a.Close()
	waitOpen(t, s, 1)

	b := dialNet(t, "tcp", s.Addr().String())
	waitOpen(t, s, 2)
	bFD, bID := -1, int64(0)
	_ = s.fan.Each(t.Context(), func(m *shard.Member) {
		if cl := m.Value.(*client); strconv.FormatInt(m.ID, 10) != aID && cl.conn.RemoteAddr().String() == b.LocalAddr().String() {
			bFD, bID = cl.conn.Fd(), m.ID
		}
	})
	t.Logf("held sender %s's descriptor %d, the next connection's (%d) %d", aID, aFD, bID, bFD)
	if _, err := b.Write([]byte("b 0 after\n")); err != nil {
		t.Fatal(err)
	}
	close(hurry)
	_ = reader.SetReadDeadline(time.Now().Add(time.Minute))
	// The reader gets a's lines read before it left, then b's line.
	waitFor(t, "the hold to end", func() bool { st := s.fan.Stats(); return !st.Congested && st.Held == 0 })
	if err := <-readErr; err == nil || !strings.Contains(err.Error(), "b 0 after") {
		t.Fatalf("the reader ended with %v, want it to reach b's line after a's", err)
	}
	if int64(s.fan.Stats().Frames) != got.Load()+1 {
		t.Errorf("the reader got %d of a's lines; the server read %d lines in all (a's and b's one)", got.Load(), s.fan.Stats().Frames)
	}
}

// TestPauseRacesEndings: held senders close, reset and are kicked while
// the hold starts and lifts, and the server drains and shuts down with
// senders still held: nothing panics or races, shutdown completes, and a
// reader that reads throughout sees each sender's lines once, in order.
func TestPauseRacesEndings(t *testing.T) {
	const senders, lines, pad = 12, 20000, 500 // 10 MB each: they send until the shutdown
	s, _ := startServer(t, Config{MaxLag: 1 << 20, WriteDeadline: time.Minute, SlowReader: SlowReaderPace,
		DrainTimeout: 300 * time.Millisecond})
	slow := dialNet(t, "tcp", s.Addr().String())
	_ = slow.(*net.TCPConn).SetReadBuffer(16 << 10)
	watcher := dial(t, s)
	conns := make([]*net.TCPConn, senders)
	for i := range conns {
		conns[i] = dialNet(t, "tcp", s.Addr().String()).(*net.TCPConn)
	}
	waitOpen(t, s, senders+2)
	// The slow reader holds senders back now and then: it trickles for
	// 200 ms, then reads at full speed for 100 ms, and again.
	stopSlow := make(chan struct{})
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		buf := make([]byte, 1<<20)
		for start := time.Now(); ; {
			select {
			case <-stopSlow:
				return
			default:
			}
			chunk := len(buf)
			if time.Since(start)%(300*time.Millisecond) < 200*time.Millisecond {
				time.Sleep(10 * time.Millisecond)
				chunk = 4 << 10
			}
			_ = slow.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, _ = slow.Read(buf[:chunk])
		}
	}()
	// The watcher reads everything and checks each sender's order.
	watchErr := make(chan error, 1)
	go func() {
		next := map[string]int{}
		_ = watcher.conn.SetReadDeadline(time.Now().Add(time.Minute))
		for {
			line, err := watcher.r.ReadString('\n')
			if err != nil {
				watchErr <- nil // the server closed it at shutdown
				return
			}
			_, body, _ := strings.Cut(line, ":")
			var tag string
			var seq int
			if _, err := fmt.Sscanf(body, "%s %d", &tag, &seq); err != nil || seq != next[tag] {
				watchErr <- fmt.Errorf("got %.40q, want %s line %d", line, tag, next[tag])
				return
			}
			next[tag]++
		}
	}()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(2)
		go func() {
			defer wg.Done()
			var n atomic.Int64
			_ = blastCounted(c, fmt.Sprintf("s%d", i), lines, pad, &n)
		}()
		go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }() // senders read what others send
	}
	// Endings while holds come and go.
	for i, c := range conns[:senders/2] {
		time.Sleep(50 * time.Millisecond)
		switch i % 3 {
		case 0:
			_ = c.CloseWrite()
		case 1:
			_ = c.SetLinger(0)
			_ = c.Close()
		case 2:
			_ = s.fan.Each(t.Context(), func(m *shard.Member) {
				if cl := m.Value.(*client); cl.conn.RemoteAddr().String() == c.LocalAddr().String() {
					s.kick(cl, "the test", "racing a hold")
				}
			})
		}
	}
	waitFor(t, "holds to come and go, and senders to be held", func() bool {
		st := s.fan.Stats()
		return st.Congestions >= 3 && st.Held > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with senders held: %v", err)
	}
	close(stopSlow)
	<-slowDone
	for _, c := range conns {
		_ = c.Close() // unblocks the writers
	}
	wg.Wait()
	if err := <-watchErr; err != nil {
		t.Fatal(err)
	}
}
