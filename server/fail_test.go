package server

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrokenListenerFailsTheServer: when a listener dies under the server
// (here closed behind its back; in life a descriptor table gone wrong),
// the server says so instead of carrying on deaf: it logs why, /readyz
// turns 503, Died closes with the error (main then drains and exits 1, so
// that a supervisor restarts it), and the connections it has still work
// until then.
func TestBrokenListenerFailsTheServer(t *testing.T) {
	s, logs := startServer(t, Config{MetricsAddr: "127.0.0.1:0"})
	a, b := dial(t, s), dial(t, s)
	waitOpen(t, s, 2)
	base := "http://" + s.MetricsAddr().String()
	if code := httpStatus(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d before", code)
	}
	_ = s.listeners[0].ln.Close() // not through Shutdown: accept fails with "use of closed network connection"
	select {
	case <-s.Died():
	case <-time.After(10 * time.Second):
		t.Fatal("Died did not close")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "accept on") {
		t.Fatalf("Err() = %v", err)
	}
	if code := httpStatus(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d after the listener died, want 503", code)
	}
	if !strings.Contains(logs.String(), "the server cannot serve any more") {
		t.Errorf("no log line says why:\n%s", logs.String())
	}
	a.send("still relayed\n")
	if got := b.mustReadLine(); !strings.HasSuffix(got, ":still relayed") {
		t.Fatalf("got %q", got)
	}
}

// TestGnetLoopDeathFailsTheServer: gnet says an event loop died only in
// its log; that line fails the server.
func TestGnetLoopDeathFailsTheServer(t *testing.T) {
	s, _ := startServer(t, Config{})
	gnetLogger{l: s.log, fail: s.fail}.Errorf("event-loop(%d) is exiting due to error: %v", 1, "epoll_wait: bad file descriptor")
	select {
	case <-s.Died():
	default:
		t.Fatal("Died did not close")
	}
	if s.Ready() {
		t.Error("Ready after a loop died")
	}
	gnetLogger{l: s.log, fail: s.fail}.Errorf("failed to set TCP keepalive on fd=%d: %v", 9, "bad") // not fatal, and no second failure
	if !strings.Contains(s.Err().Error(), "event-loop(1) is exiting") {
		t.Errorf("Err() = %v", s.Err())
	}
}
