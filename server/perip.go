package server

import (
	"net/netip"
	"sync"
)

// ipLimiter counts connections per source IP for --max-conns-per-ip.
// Safe for concurrent use; its lock is taken only on open and close.
type ipLimiter struct {
	max   int // 0: no limit, and no counting
	mu    sync.Mutex
	count map[netip.Addr]int // guarded by mu
}

func newIPLimiter(max int) *ipLimiter {
	return &ipLimiter{max: max, count: make(map[netip.Addr]int)}
}

// acquire takes a slot for ip, or reports false when ip has none left.
// Connections without an IP (unix sockets) are not limited.
func (l *ipLimiter) acquire(ip netip.Addr) bool {
	if l.max == 0 || !ip.IsValid() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip] >= l.max {
		return false
	}
	l.count[ip]++
	return true
}

// release gives back the slot acquire took.
func (l *ipLimiter) release(ip netip.Addr) {
	if l.max == 0 || !ip.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip] <= 1 {
		delete(l.count, ip)
		return
	}
	l.count[ip]--
}
