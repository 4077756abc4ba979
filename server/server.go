package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/snowflake"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/fanout/fanout/shard"
)

// Server is one fanout daemon. Create it with New, then Start, then
// Shutdown. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	ids *snowflake.Node
	fan *shard.Fanout

	eng    gnet.Engine   // set in OnBoot, before booted closes
	booted chan struct{} // closed by OnBoot
	done   chan error    // gnet.Run's result
	addr   net.Addr      // the bound listen address, set by Start

	draining atomic.Bool // refuse new connections and new lines
	stopping atomic.Bool // the engine is closing every connection
	open     atomic.Int64
	accepted atomic.Uint64
	closed   [ReasonShutdown + 1]atomic.Uint64 // closes by reason
	started  time.Time
}

// New checks cfg (after filling defaults) and returns a server that is not
// yet listening.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	ids, err := snowflake.NewNode(cfg.Node)
	if err != nil {
		return nil, bad("--node", "%v", err)
	}
	s := &Server{
		cfg:    cfg,
		log:    log,
		ids:    ids,
		booted: make(chan struct{}),
		done:   make(chan error, 1),
	}
	s.fan = shard.New(shard.NewRegistry(cfg.Shards), shard.Options{
		MaxPending: cfg.MaxPending,
		Coalesce:   cfg.Coalesce,
		OnEvict:    s.evict,
	})
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Start listens and returns once the event loops run, or with the error
// that kept them from starting.
func (s *Server) Start() error {
	s.started = time.Now()
	h := &handler{s: s}
	go func() {
		s.done <- gnet.Run(h, "tcp://"+s.cfg.Addr,
			gnet.WithNumEventLoop(s.cfg.Loops),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithReuseAddr(true),
			gnet.WithLogger(gnetLogger{s.log}),
		)
	}()
	select {
	case <-s.booted:
	case err := <-s.done:
		if err == nil {
			err = errors.New("engine stopped before it started")
		}
		return fmt.Errorf("server: listen on %s: %w", s.cfg.Addr, err)
	}
	addr, err := s.boundAddr()
	if err != nil {
		_ = s.eng.Stop(context.Background())
		<-s.done
		return fmt.Errorf("server: %w", err)
	}
	s.addr = addr
	s.log.Info("listening", "addr", addr.String(), "loops", s.cfg.Loops, "shards", s.cfg.Shards,
		"node", s.cfg.Node, "max_line", s.cfg.MaxLine, "max_pending", s.cfg.MaxPending,
		"max_conns", s.cfg.MaxConns, "drain_timeout", s.cfg.DrainTimeout, "coalesce", s.cfg.Coalesce)
	return nil
}

// boundAddr reads the listener's address (port 0 becomes the real port).
func (s *Server) boundAddr() (net.Addr, error) {
	fd, err := s.eng.Dup()
	if err != nil {
		return nil, fmt.Errorf("dup listener: %w", err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}, nil
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("listener has unexpected address type %T", sa)
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Summary is what Shutdown reports.
type Summary struct {
	Uptime    time.Duration
	Accepted  uint64
	Lines     uint64 // lines relayed
	Writes    uint64 // writes to client sockets
	Evicted   uint64 // slow consumers cut off
	Drained   bool   // every queued byte was handed to the kernel in time
	Remaining int    // bytes still queued when the drain ended
}

// Shutdown stops taking connections and lines, waits (up to the drain
// timeout or ctx) until what is queued has been written, then closes every
// connection and stops the event loops.
func (s *Server) Shutdown(ctx context.Context) (Summary, error) {
	s.draining.Store(true)
	sum := Summary{Uptime: time.Since(s.started)}

	drainCtx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	sum.Remaining, sum.Drained = s.drain(drainCtx)
	cancel()

	s.stopping.Store(true)
	stopErr := s.eng.Stop(ctx)
	var runErr error
	select {
	case runErr = <-s.done:
	case <-ctx.Done():
		runErr = ctx.Err()
	}
	s.fan.Close()

	st := s.fan.Stats()
	sum.Accepted, sum.Lines, sum.Writes, sum.Evicted = s.accepted.Load(), st.Frames, st.Writes, st.Evictions
	s.log.Info("shutdown complete", "uptime", sum.Uptime.Round(time.Millisecond),
		"accepted", sum.Accepted, "lines", sum.Lines, "writes", sum.Writes,
		"slow_consumers", sum.Evicted, "drained", sum.Drained, "undelivered_bytes", sum.Remaining)
	if err := errors.Join(stopErr, runErr); err != nil {
		return sum, fmt.Errorf("server: shutdown: %w", err)
	}
	return sum, nil
}

// drainPoll is how often the drain looks at the backlog.
const drainPoll = 5 * time.Millisecond

// drain waits until nothing is queued or ctx ends; it returns the bytes
// left and whether the backlog reached zero.
func (s *Server) drain(ctx context.Context) (int, bool) {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	last := 0 // the last backlog the loops reported
	for {
		n, err := s.fan.Backlog(ctx)
		if err == nil {
			if n == 0 {
				return 0, true
			}
			last = n
		}
		select {
		case <-ctx.Done():
			return last, false
		case <-t.C:
		}
	}
}
