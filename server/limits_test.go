package server

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/fanout/fanout/internal/sysutil"
)

// TestMaxConnsFitsTheFileLimit: by default --max-conns is the open-file
// limit less what the server keeps for itself; more than that is refused,
// naming the flag, the limit and the largest value that fits.
func TestMaxConnsFitsTheFileLimit(t *testing.T) {
	limit := sysutil.FileLimit()
	if limit == 0 || limit > 1<<30 {
		t.Skipf("the open-file limit (%d) is unlimited here", limit)
	}
	cfg := Config{Addr: "127.0.0.1:0", Loops: 2}
	reserve := fdReserve(cfg.withDefaults(), 1)
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Config().MaxConns, int(limit)-reserve; got != want {
		t.Errorf("default MaxConns = %d, want the limit %d less %d = %d", got, limit, reserve, want)
	}
	s.closeWaiter()
	if reserve < 64+64+2*enrollSlots {
		t.Errorf("the reserve (%d) does not cover the metrics connections and the hand-over slots", reserve)
	}
	cfg.MaxConns = int(limit) - reserve + 1
	_, err = New(cfg, slog.New(slog.DiscardHandler))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Flag != "--max-conns" || !strings.Contains(err.Error(), "so at most") {
		t.Fatalf("MaxConns one past the room: %v", err)
	}
	cfg.MaxConns = int(limit) - reserve
	s, err = New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("MaxConns exactly the room: %v", err)
	}
	s.closeWaiter()
}
