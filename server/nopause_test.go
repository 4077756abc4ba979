//go:build !linux || fanout_portable

package server

import (
	"strings"
	"testing"
	"time"
)

// TestWithoutReadPauseLaggardsAreCut: a build that cannot pause reading
// sockets does not hold senders back; a reader that falls more than
// --max-lag behind is cut instead, so memory stays bounded, and the sender
// is not cut.
func TestWithoutReadPauseLaggardsAreCut(t *testing.T) {
	const maxLag = 1 << 20
	s, logs := startServer(t, Config{MaxLag: maxLag, WriteDeadline: time.Minute})
	sender, stuck := dial(t, s), dial(t, s)
	_ = stuck.conn.SetReadBuffer(4096) // never read: the kernel absorbs little for it
	waitOpen(t, s, 2)
	s.fan.TakePeakLogBytes()
	if err := blast(sender.conn, "n", 8000, 1000); err != nil { // 8 MB
		t.Fatalf("sender: %v", err)
	}
	waitFor(t, "the laggard to be cut", func() bool { return s.closed[ReasonSlowConsumer].Load() == 1 })
	waitOpen(t, s, 1)
	if st := s.fan.Stats(); st.Congestions != 0 || st.Held != 0 {
		t.Errorf("senders were held without a read pause: %+v", st)
	}
	if peak := s.fan.TakePeakLogBytes(); peak > 4*maxLag {
		t.Errorf("the log held %d bytes at its peak, want at most 4 × --max-lag", peak)
	}
	if !strings.Contains(logs.String(), "too far behind") {
		t.Error("no log line for the cut reader")
	}
}
