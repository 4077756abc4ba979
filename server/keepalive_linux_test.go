package server

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fanout/fanout/shard"
)

// TestKeepAliveByDefault: the serve default turns TCP keep-alive on at
// one minute, and an accepted connection's socket has it: a peer silent
// for 60 s is probed every 12 s and dropped after 5 unanswered probes.
func TestKeepAliveByDefault(t *testing.T) {
	if got := DefaultConfig().TCPKeepAlive; got != time.Minute {
		t.Fatalf("default --tcp-keepalive = %s, want 1m", got)
	}
	s, _ := startServer(t, Config{TCPKeepAlive: DefaultConfig().TCPKeepAlive})
	dial(t, s)
	waitOpen(t, s, 1)
	type opts struct{ on, idle, intvl, cnt int }
	got := make(chan opts, 1)
	err := s.fan.Each(context.Background(), func(m *shard.Member) {
		fd := m.Value.(*client).conn.Fd()
		var o opts
		o.on, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		o.idle, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		o.intvl, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		o.cnt, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
		got <- o
	})
	if err != nil {
		t.Fatal(err)
	}
	if o := <-got; o != (opts{on: 1, idle: 60, intvl: 12, cnt: 5}) {
		t.Fatalf("socket keep-alive %+v, want on, idle 60s, interval 12s, 5 probes", o)
	}
	if err := (Config{TCPKeepAlive: 500 * time.Millisecond}).withDefaults().Validate(); err == nil {
		t.Error("a sub-second keep-alive was accepted (the kernel counts in seconds)")
	}
}
