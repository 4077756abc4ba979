package server

import "github.com/fanout/fanout/internal/sysutil"

// defaultMaxConns is the open-file soft limit less a reserve.
func defaultMaxConns() int {
	lim := sysutil.FileLimit()
	if lim == 0 || lim > 1<<30 {
		return 1 << 20
	}
	return max(int(lim)-sysutil.FDReserve, 1)
}
