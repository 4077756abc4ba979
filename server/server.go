package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/snowflake"
	"github.com/panjf2000/gnet/v2"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/internal/ws"
	"github.com/fanout/fanout/metrics"
	"github.com/fanout/fanout/shard"
)

// Server is one fanout daemon. Create it with New, then Start, then
// Shutdown. Its methods are safe for concurrent use.
type Server struct {
	cfg       Config
	specs     []listenSpec
	log       *slog.Logger
	ids       *snowflake.Node
	fan       *shard.Fanout
	perIP     *ipLimiter
	kind      listenerKind   // which listeners expect a PROXY header
	proxyFrom []netip.Prefix // --proxy-from; empty: any source may send a header
	burst     float64        // flood control's bucket size, cfg.burst() worked out once
	mets      *metrics.Metrics
	web       *metrics.HTTP       // nil without --metrics-addr
	peers     *cluster.Bridge     // nil without --cluster; set before the loops start
	waits     *shard.SocketWaiter // watches full sockets for room (epoll on Linux); closed by Shutdown
	rates     *rateWindow         // recent totals for /varz; sampled by the reclaimer goroutine

	adminToken string // enables DELETE /connz/{id}; empty: disabled

	clusterKeys [][]byte // from --cluster-key-file; never logged or shown

	cli       *gnet.Client // runs the event loops; set in Start before any connection
	listeners []*listener  // one per spec, bound by Start; closed by stopAccepting
	addrs     []net.Addr   // the bound line listeners' addresses, in spec order; set in Start
	wsAddrs   []net.Addr   // the bound WebSocket listeners' addresses (--ws-addr); set in Start

	// The WebSocket listener (ws.go).
	upgrader *ws.Upgrader // the handshake parser; read-only
	openWS   atomic.Int64 // WebSocket connections open, in the handshake or upgraded

	// Accepting (accept.go).
	enrollSem       chan struct{}  // holds a token per connection being handed to a loop
	acceptWG        sync.WaitGroup // the accept goroutines
	enrollWG        sync.WaitGroup // the goroutines handing connections over
	stopAccept      chan struct{}  // closed by stopAccepting
	stopAcceptOnce  sync.Once
	listenersClosed atomic.Bool   // set before the listeners close: their accept errors are expected
	acceptErrors    atomic.Uint64 // accept calls that failed and were retried

	// Failure: the server can no longer serve (a listener or an event
	// loop died). Died closes; Ready turns false; main exits non-zero.
	failOnce sync.Once
	failed   atomic.Bool
	failErr  error         // set once, before died closes
	died     chan struct{} // closed by fail

	logLimits  *logLimiters  // rate limits for the log lines the network can cause
	controlSem chan struct{} // a token per control request being served (connz.go)
	gatherLock chan struct{} // held by the one /connz gathering

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loopStats // guarded by loopsMu; read on scrape

	stop       chan struct{}  // closed by Shutdown: ends the background goroutines
	background sync.WaitGroup // the idle and header sweepers, the WebSocket pinger and the memory reclaimer

	draining atomic.Bool // refuse new connections and new lines
	stopping atomic.Bool // the engine is closing every connection
	open     atomic.Int64
	accepted atomic.Uint64
	closed   [reasonCount]atomic.Uint64 // closes by reason
	started  time.Time
	running  atomic.Bool // Start succeeded: the loops and the server's goroutines run

	shutdownOnce sync.Once
	shutdownSum  Summary // set once by the first Shutdown
	shutdownErr  error   // set once by the first Shutdown
}

// New checks cfg (after filling defaults) and returns a server that is not
// yet listening.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	specs, _ := cfg.listenSpecs()      // validated above
	proxyFrom, _ := cfg.proxySources() // validated above
	if err := resolveMaxConns(&cfg, len(specs)); err != nil {
		return nil, err
	}
	for _, l := range specs {
		if l.network == "unix" {
			if err := checkSocketPath(l.address); err != nil {
				return nil, bad(l.flag, "%v", err)
			}
		}
	}
	if log == nil {
		log = slog.Default()
	}
	ids, err := snowflake.NewNode(cfg.Node)
	if err != nil {
		return nil, bad(flagNode, "%v", err)
	}
	s := &Server{
		cfg:        cfg,
		specs:      specs,
		log:        log,
		ids:        ids,
		perIP:      newIPLimiter(cfg.MaxConnsPerIP),
		proxyFrom:  proxyFrom,
		burst:      float64(cfg.burst()),
		enrollSem:  make(chan struct{}, enrollSlots),
		stopAccept: make(chan struct{}),
		died:       make(chan struct{}),
		logLimits:  newLogLimiters(),
		controlSem: make(chan struct{}, controlInflight),
		gatherLock: make(chan struct{}, 1),
		loops:      make(map[gnet.EventLoop]*loopStats),
		stop:       make(chan struct{}),
		rates:      &rateWindow{},
		upgrader:   cfg.upgrader(),
	}
	if cfg.AdminTokenFile != "" {
		b, err := os.ReadFile(cfg.AdminTokenFile)
		if err != nil {
			return nil, bad(flagAdminTokenFile, "%v", err)
		}
		if s.adminToken = strings.TrimSpace(string(b)); s.adminToken == "" {
			return nil, bad(flagAdminTokenFile, "%s is empty", cfg.AdminTokenFile)
		}
	} else {
		s.adminToken = cfg.AdminToken
	}
	if s.clusterKeys, err = loadClusterKeys(cfg.ClusterKeyFile, log); err != nil {
		return nil, err
	}
	s.mets = metrics.New(s.snapshot)
	waits, err := shard.NewSocketWaiter()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.waits = waits
	opts := shard.Options{MaxLag: cfg.MaxLag, WriteDeadline: cfg.WriteDeadline, Waiter: waits,
		Coalesce: cfg.Coalesce, OnEvict: s.evict, OnResume: s.resume, HoldSenders: readPauseSupported}
	if cfg.SlowReader == SlowReaderPace {
		opts.SlowReader = shard.PaceAll
	}
	if cfg.Coalesce > 0 {
		if meter, err := sysutil.NewIdleMeter(); err != nil {
			s.log.Warn("coalescing window keeps a fixed duty: the CPUs' idle time cannot be read", "err", err, "duty", shard.DefaultDuty)
		} else {
			opts.Meter = meter
		}
	}
	if cfg.MetricsAddr != "" {
		opts.OnSeal = s.mets.ObserveSeal // the histograms cost a clock read per batch
	}
	if cfg.ClusterURLs != "" {
		opts.OnBatch = func(buf []byte, lines int) { s.peers.Offer(buf, lines) }
	}
	s.fan = shard.New(shard.NewRegistry(cfg.Shards), opts)
	switch {
	case cfg.ProxyProtocol && cfg.DirectAddr != "":
		s.kind = mixed
	case cfg.ProxyProtocol:
		s.kind = allProxy
	}
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Start listens and returns once the event loops run and the listeners
// accept, or with the error that kept them from starting; then it has
// released what it took (rollback).
func (s *Server) Start() (err error) {
	s.started = time.Now()
	defer func() {
		if err != nil {
			s.rollback()
		}
	}()
	if err := s.joinCluster(); err != nil {
		return err
	}
	for _, spec := range s.specs {
		l, err := listen(spec, s.cfg)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		s.listeners = append(s.listeners, l)
		if spec.ws {
			s.wsAddrs = append(s.wsAddrs, l.addr)
		} else {
			s.addrs = append(s.addrs, l.addr)
		}
	}
	cli, err := gnet.NewClient(&handler{s: s},
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{l: s.log, fail: s.fail}),
	)
	if err == nil {
		err = cli.Start()
	}
	if err != nil {
		return fmt.Errorf("server: start the event loops: %w", err)
	}
	s.cli = cli
	if err := s.afterBoot(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.running.Store(true)
	for _, l := range s.listeners {
		s.acceptWG.Add(1)
		go s.acceptLoop(l)
	}
	return nil
}

// rollback releases, newest first, what a failed Start took: the event
// loops (once they run), the listeners, the cluster bridge and the write
// waiter. Each step does nothing when its part was never set up.
func (s *Server) rollback() {
	if s.cli != nil {
		s.stopping.Store(true)
		_ = s.cli.Stop()
	}
	_ = s.closeListeners()
	s.leaveCluster()
	s.closeWaiter()
}

// joinCluster connects to the NATS domain when configured; it fails when
// NATS cannot be reached or another live node has our node number.
func (s *Server) joinCluster() error {
	if s.cfg.ClusterURLs == "" {
		return nil
	}
	host, _ := os.Hostname()
	peers, err := cluster.Join(cluster.Config{
		URLs:          s.cfg.ClusterURLs,
		Subject:       s.cfg.ClusterSubject,
		Node:          s.cfg.Node,
		Creds:         s.cfg.ClusterCreds,
		TLSCA:         s.cfg.ClusterTLSCA,
		TLSCert:       s.cfg.ClusterTLSCert,
		TLSKey:        s.cfg.ClusterTLSKey,
		ReconnectWait: s.cfg.ClusterReconnectWait,
		MaxLine:       s.cfg.MaxLine,
		Keys:          s.clusterKeys,
		Describe:      fmt.Sprintf("fanout node %d, pid %d on %s", s.cfg.Node, os.Getpid(), host),
	}, s.injectRemote, s.log)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.peers = peers
	return nil
}

// injectRemote delivers another node's batch to the local clients. Runs on
// nats.go's subscription goroutine.
func (s *Server) injectRemote(buf []byte, lines int) bool {
	if s.draining.Load() {
		return true // as for local lines: nothing new once the drain began
	}
	return s.fan.Inject(buf, lines)
}

func (s *Server) leaveCluster() {
	if s.peers == nil {
		return
	}
	if err := s.peers.Close(2 * time.Second); err != nil {
		s.log.Warn("leaving cluster", "err", err)
	}
}

// afterBoot starts the metrics listener and the sweepers.
func (s *Server) afterBoot() error {
	if s.cfg.MetricsAddr != "" {
		web, err := metrics.Serve(s.cfg.MetricsAddr, s.mets, metrics.Options{Ready: s.Ready, Pprof: s.cfg.Pprof,
			Routes: s.routes, Admin: s.guardDebug, Cmdline: s.redactedArgs, ErrorLog: s.httpErrorLog()})
		if err != nil {
			return err
		}
		s.web = web
		if ap, err := netip.ParseAddrPort(web.Addr().String()); err == nil && !ap.Addr().IsLoopback() && !s.cfg.AdminReads {
			s.log.Warn("the metrics listener is not on loopback and serves /connz (client addresses) and pprof without a token; "+
				"bind it to a private address or set --admin-reads", "metrics_addr", web.Addr().String(), "pprof", s.cfg.Pprof)
		}
	}
	s.background.Go(s.sweepIdle)
	s.background.Go(s.sweepHeaders)
	s.background.Go(s.pingWS)
	s.background.Go(s.reclaimMemory)
	attrs := []any{"addr", s.addrs[0].String(), "loops", s.cfg.Loops, "shards", s.cfg.Shards,
		"node", s.cfg.Node, "max_line", s.cfg.MaxLine, "write_deadline", s.cfg.WriteDeadline,
		"max_lag", s.cfg.MaxLag, "slow_reader", s.cfg.SlowReader,
		"max_conns", s.cfg.MaxConns, "max_conns_per_ip", s.cfg.MaxConnsPerIP,
		"idle_timeout", s.cfg.IdleTimeout, "tcp_keepalive", s.cfg.TCPKeepAlive, "tcp_notsent_lowat", notsentLowatAttr(s.cfg.TCPNotsentLowat), "reuseport", s.cfg.ReusePort,
		"drain_timeout", s.cfg.DrainTimeout}
	if s.cfg.RateLimit > 0 {
		attrs = append(attrs, "rate_limit", s.cfg.RateLimit, "rate_burst", s.burst, "flood", s.cfg.Flood)
	} else {
		attrs = append(attrs, "rate_limit", "off")
	}
	if s.cfg.Coalesce > 0 {
		attrs = append(attrs, "coalesce", s.cfg.Coalesce)
	} else {
		attrs = append(attrs, "coalesce", "off")
	}
	for _, a := range s.addrs[1:] {
		attrs = append(attrs, "also", a.String())
	}
	if s.kind != allDirect {
		attrs = append(attrs, "proxy_protocol", s.proxyListeners(), "proxy_header_timeout", s.cfg.ProxyHeaderTimeout)
		if s.cfg.ProxyFrom != "" {
			attrs = append(attrs, "proxy_from", s.cfg.ProxyFrom)
		}
	}
	if len(s.wsAddrs) > 0 {
		attrs = append(attrs, "ws_addr", joinAddrs(s.wsAddrs), "ws_origin", s.upgrader.Origins.String(),
			"ws_ping", s.cfg.WSPing, "ws_handshake_timeout", s.cfg.WSHandshakeTimeout, "ws_max_header", s.cfg.WSMaxHeader)
	}
	if s.web != nil {
		attrs = append(attrs, "metrics_addr", s.web.Addr().String(), "pprof", s.cfg.Pprof)
	}
	if s.peers != nil {
		attrs = append(attrs, "cluster_subject", s.cfg.ClusterSubject)
	}
	s.log.Info("listening", attrs...)
	return nil
}

// proxyListeners lists the bound addresses that expect a PROXY header.
func (s *Server) proxyListeners() string {
	var list []string
	for _, l := range s.listeners {
		if l.spec.proxy {
			list = append(list, l.addr.String())
		}
	}
	return strings.Join(list, ",")
}

// Addr returns the first address the server listens on.
func (s *Server) Addr() net.Addr { return s.addrs[0] }

// Addrs returns every address the server listens on for line clients.
func (s *Server) Addrs() []net.Addr { return s.addrs }

// WSAddrs returns the WebSocket listeners' addresses (--ws-addr); empty
// without one.
func (s *Server) WSAddrs() []net.Addr { return s.wsAddrs }

// MetricsAddr returns the metrics listener's address, or nil.
func (s *Server) MetricsAddr() net.Addr {
	if s.web == nil {
		return nil
	}
	return s.web.Addr()
}

// Connections returns how many client connections are open and joined to
// the fan-out. Safe for concurrent use.
func (s *Server) Connections() int { return s.fan.Registry().Len() }

// Ready reports whether the server takes traffic: listening, not
// draining, not failed, and (in a cluster) connected to NATS.
func (s *Server) Ready() bool {
	return s.running.Load() && !s.draining.Load() && !s.failed.Load() && (s.peers == nil || s.peers.Connected())
}

// fail records that the server can no longer serve: a listener or an
// event loop died. It logs why, turns /readyz to 503 and closes Died; the
// process should then shut down and exit non-zero (main does), so that a
// supervisor restarts it. Only the first failure counts. Safe for
// concurrent use.
func (s *Server) fail(err error) {
	s.failOnce.Do(func() {
		s.failErr = err
		s.failed.Store(true)
		s.log.Error("the server cannot serve any more; it must be restarted", "err", err)
		close(s.died)
	})
}

// Died is closed when the server has failed (see Err).
func (s *Server) Died() <-chan struct{} { return s.died }

// Err returns why the server failed, once Died is closed; nil before.
func (s *Server) Err() error {
	select {
	case <-s.died:
		return s.failErr
	default:
		return nil
	}
}

// loopStats returns the counters of c's loop, creating them (and finding
// the loop's poller) at its first connection. Runs on c's loop (OnOpen).
func (s *Server) loopStats(c gnet.Conn) *loopStats {
	loop := c.EventLoop()
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	ls, ok := s.loops[loop]
	if !ok {
		ls = &loopStats{index: len(s.loops), poller: -1, pending: make(map[*client]struct{}),
			handshakes: make(map[*client]struct{})}
		if readPauseSupported {
			if p, err := findLoopPoller(c.Fd()); err != nil {
				s.log.Error("cannot pause reading sockets on this event loop: senders are not slowed down, "+
					"readers more than --max-lag behind are cut instead", "loop", ls.index, "err", err)
				s.fan.StopHoldingSenders()
			} else {
				ls.poller = p
			}
		}
		s.loops[loop] = ls
	}
	return ls
}

// snapshot gathers the metrics. Called on scrape.
func (s *Server) snapshot() metrics.Snapshot {
	st := s.fan.Stats()
	snap := metrics.Snapshot{
		Open:       s.open.Load(),
		Accepted:   s.accepted.Load(),
		Closed:     make(map[string]uint64, len(s.closed)),
		LinesIn:    st.Frames,
		Deliveries: st.Deliveries,
		BytesOut:   st.BytesOut,
		Batches:    st.Batches,
		Rounds:     st.Rounds,
		Writes:     st.Writes,

		LogBytes:       st.LogBytes,
		BehindBytes:    st.BehindBytes,
		SocketsFull:    st.Full,
		Backpressure:   st.Congested,
		Congestions:    st.Congestions,
		SendersHeld:    st.Held,
		ReadersHolding: st.Flagged,
		LostTasks:      st.LostTasks,
		Window:         st.Window.Seconds(),
		RoundCost:      st.RoundCost.Seconds(),
		Duty:           st.Duty,

		AcceptErrors:  s.acceptErrors.Load(),
		LogSuppressed: s.logLimits.suppressedTotals(),
	}
	ws := s.openWS.Load()
	snap.OpenByProto = map[string]int64{shard.TCPLines.String(): snap.Open - ws, shard.WebSocket.String(): ws}
	for r := ReasonClientQuit; r < reasonCount; r++ {
		snap.Closed[r.String()] = s.closed[r].Load()
	}
	s.loopsMu.Lock()
	for _, ls := range s.loops {
		snap.BytesIn += ls.bytesIn.Load()
		snap.LinesDropped += ls.dropped.Load()
	}
	s.loopsMu.Unlock()
	if s.peers != nil {
		cs := s.peers.Stats()
		snap.Cluster = &metrics.ClusterSnapshot{Connected: cs.Connected, Published: cs.Published,
			PublishDropped: cs.PublishDropped, Received: cs.Received, Missed: cs.Missed, Duplicates: cs.Duplicates, ReceiveDropped: cs.ReceiveDropped, InjectDropped: cs.InjectDropped,
			Malformed: cs.Malformed, Unauthenticated: cs.Unauthenticated, Origins: cs.Origins, Outages: cs.Outages}
	}
	reg := s.fan.Registry()
	snap.ShardConns = make([]int, reg.Shards())
	for i := range snap.ShardConns {
		snap.ShardConns[i] = reg.ShardLen(i)
	}
	return snap
}

// sweepIdle closes connections silent for the idle timeout, checking a few
// times per timeout on each loop. It ends when stop closes.
func (s *Server) sweepIdle() {
	if s.cfg.IdleTimeout <= 0 {
		return
	}
	s.visitMembers("idle sweep", s.cfg.IdleTimeout, nil, s.closeIfIdle)
}

// visitMembers runs visit on every member, on the member's loop, four
// times per span (at least 10ms apart), each pass bounded by span, until
// stop closes; it skips a pass while idle (when given) says there is
// nothing to visit. what names the sweep in its log line. Runs on its own
// goroutine.
func (s *Server) visitMembers(what string, span time.Duration, idle func() bool, visit func(m *shard.Member, now int64)) {
	t := time.NewTicker(max(span/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if idle != nil && idle() {
				continue
			}
			now := time.Now().UnixNano()
			ctx, cancel := context.WithTimeout(context.Background(), span)
			err := s.fan.Each(ctx, func(m *shard.Member) { visit(m, now) })
			cancel()
			if err != nil && !s.draining.Load() {
				s.log.Warn(what, "err", err)
			}
		}
	}
}

// closeWaiter releases the EpollWaiter once no loop can use it.
func (s *Server) closeWaiter() {
	if err := s.waits.Close(); err != nil {
		s.log.Warn("closing the write waiter", "err", err)
	}
}

// Summary is what Shutdown reports.
type Summary struct {
	Uptime   time.Duration
	Accepted uint64
	Lines    uint64 // lines relayed
	Writes   uint64 // writes to client sockets
	Evicted  uint64 // slow consumers cut off
	Drained  bool   // every queued byte was handed to the kernel in time
	// Undelivered is what was left unwritten when the drain ended: each
	// byte once, however many clients were owed it (it is held once).
	Undelivered int64
	Owed        int // clients that were owed any of it
}

// Shutdown stops taking connections and lines (/readyz turns 503), waits
// (up to the drain timeout or ctx) until what is queued has been written,
// then closes every connection and stops the event loops.
//
// Shutdown is idempotent and safe to call concurrently: later calls wait
// for the first and return its result. On a server whose Start failed or
// never ran it only releases what New took, at once.
func (s *Server) Shutdown(ctx context.Context) (Summary, error) {
	s.shutdownOnce.Do(func() { s.shutdownSum, s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownSum, s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) (Summary, error) {
	if !s.running.Load() {
		s.draining.Store(true)
		s.closeWaiter() // Start released the rest when it failed
		return Summary{}, nil
	}
	s.draining.Store(true)
	sum := Summary{Uptime: time.Since(s.started)}
	close(s.stop)
	s.background.Wait()

	drainCtx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	_, sum.Drained = s.drain(drainCtx)
	cancel()
	goingAway, cancel := context.WithTimeout(ctx, time.Second)
	s.sayGoingAway(goingAway) // WebSocket clients are told why (1001)
	cancel()
	if !sum.Drained {
		uctx, cancel := context.WithTimeout(ctx, time.Second)
		if u, err := s.fan.Undelivered(uctx); err == nil {
			sum.Undelivered, sum.Owed = u.Bytes, u.Members
		} else {
			s.log.Warn("cannot tell what is left undelivered", "err", err)
		}
		cancel()
	}

	s.stopping.Store(true)
	stopErr := s.stopAccepting(ctx.Done())
	loopsDone := make(chan error, 1)
	go func() { loopsDone <- s.cli.Stop() }() // closes every connection, then the loops
	var runErr error
	select {
	case runErr = <-loopsDone:
	case <-ctx.Done():
		runErr = fmt.Errorf("stopping the event loops: %w", ctx.Err())
	}
	s.fan.Close()
	s.closeWaiter()
	s.leaveCluster()
	var webErr error
	if s.web != nil {
		webErr = s.web.Close(ctx)
	}

	st := s.fan.Stats()
	sum.Accepted, sum.Lines, sum.Writes, sum.Evicted = s.accepted.Load(), st.Frames, st.Writes, st.Evictions
	s.log.Info("shutdown complete", "uptime", sum.Uptime.Round(time.Millisecond),
		"accepted", sum.Accepted, "lines", sum.Lines, "deliveries", st.Deliveries, "writes", sum.Writes,
		"slow_consumers", sum.Evicted, "drained", sum.Drained, "undelivered_bytes", sum.Undelivered, "clients_owed", sum.Owed)
	s.reportSuppressed()
	if err := errors.Join(stopErr, runErr, webErr); err != nil {
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
