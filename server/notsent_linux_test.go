//go:build linux && !fanout_portable

package server

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fanout/fanout/shard"
)

// TestNotsentLowat: an accepted TCP connection's socket caps its unsent
// bytes at --tcp-notsent-lowat (512 KiB by default), and 0 leaves the
// kernel's default (net.ipv4.tcp_notsent_lowat, which the socket then
// reports); values out of range are refused.
func TestNotsentLowat(t *testing.T) {
	if got := DefaultConfig().TCPNotsentLowat; got != 512<<10 {
		t.Fatalf("default --tcp-notsent-lowat = %d, want 524288", got)
	}
	for _, tc := range []struct {
		name string
		set  int
		want int
	}{
		{"default", DefaultConfig().TCPNotsentLowat, 512 << 10},
		{"set", 1 << 20, 1 << 20},
		{"off", 0, kernelNotsentLowat(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServerExact(t, Config{TCPNotsentLowat: tc.set})
			dial(t, s)
			waitOpen(t, s, 1)
			got := make(chan int, 1)
			err := s.fan.Each(context.Background(), func(m *shard.Member) {
				v, err := unix.GetsockoptInt(m.Value.(*client).conn.Fd(), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
				if err != nil {
					v = -2
				}
				got <- v
			})
			if err != nil {
				t.Fatal(err)
			}
			if v := <-got; v != tc.want {
				t.Fatalf("the socket's TCP_NOTSENT_LOWAT is %d, want %d", v, tc.want)
			}
		})
	}
	for _, n := range []int{-1, 1, 16<<10 - 1, 64<<20 + 1} {
		if err := (Config{TCPNotsentLowat: n}).withDefaults().Validate(); err == nil {
			t.Errorf("--tcp-notsent-lowat %d was accepted", n)
		}
	}
	for _, n := range []int{0, 16 << 10, 64 << 20} {
		if err := (Config{TCPNotsentLowat: n}).withDefaults().Validate(); err != nil {
			t.Errorf("--tcp-notsent-lowat %d: %v", n, err)
		}
	}
}

// kernelNotsentLowat is net.ipv4.tcp_notsent_lowat as a socket reports it
// (a 32-bit value: "unlimited", 4294967295, reads as -1).
func kernelNotsentLowat(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_notsent_lowat")
	if err != nil {
		t.Skipf("cannot read the kernel's default: %v", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		t.Fatalf("net.ipv4.tcp_notsent_lowat %q: %v", b, err)
	}
	return int(int32(uint32(v)))
}
