// Command fanout is a sharded, high-throughput TCP broadcast server.
//
//	fanout serve [flags]   run the daemon
//	fanout bench [flags]   run the load-generating benchmark harness
//	fanout version         print version information
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fanout/fanout/bench"
	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/server"
)

const usage = `usage: fanout <command> [flags]

commands:
  serve     run the broadcast daemon
  bench     run the load-generating benchmark harness
  baseline  run the naive reference server the benchmarks compare with
  version   print version information

Run 'fanout <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code:
// 0 success, 1 runtime failure, 2 bad usage or configuration.
func run(args []string, stdout, stderr io.Writer) int {
	return runWithEnv(args, stdout, stderr, os.Getenv)
}

// runWithEnv is run with the environment lookup made explicit for tests.
func runWithEnv(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr, getenv)
	case "bench":
		return bench.Main(args[1:], stdout, stderr)
	case "baseline":
		return baseline(args[1:], stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fanout: unknown command %q\n%s", args[0], usage)
	return 2
}

// errMaxPendingRemoved explains a flag that no longer exists.
var errMaxPendingRemoved = errors.New("--max-pending was removed: clients are no longer cut for the size of their queue, " +
	"only when they stop reading (--write-deadline, default 10s) or fall --max-lag bytes behind (default 64 MiB)")

// errMaxHeldRemoved explains a flag that no longer exists.
var errMaxHeldRemoved = errors.New("--max-held was removed: a sender is no longer cut for sending fast; " +
	"while readers catch up the server stops reading its socket and TCP slows it down (see --slow-reader)")

// serveFlags binds the serve flags to cfg and the log settings.
type serveFlags struct {
	cfg       server.Config
	logLevel  string
	logFormat string
	readyFile string
}

// newServeFlagSet binds the serve flags to sf, starting from the defaults
// (server.DefaultConfig: one loop per CPU, max-conns from the file limit).
func newServeFlagSet(sf *serveFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by the caller
	sf.cfg = server.DefaultConfig()
	c := &sf.cfg
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address host:port (port 0 picks a free port) or unix:///path; several, comma-separated")
	fs.BoolVar(&c.ProxyProtocol, "proxy-protocol", c.ProxyProtocol, "every --addr listener expects a PROXY protocol v1/v2 header first (from haproxy, nginx, a load balancer); its client address counts for --max-conns-per-ip, logs and /connz")
	fs.StringVar(&c.DirectAddr, "direct-addr", c.DirectAddr, "with --proxy-protocol: more listeners, as in --addr, where clients connect directly without a header")
	fs.DurationVar(&c.ProxyHeaderTimeout, "proxy-header-timeout", c.ProxyHeaderTimeout, "close a connection to a PROXY listener that has not sent its header within this")
	fs.StringVar(&c.ProxyFrom, "proxy-from", c.ProxyFrom, "with --proxy-protocol: CIDRs or IPs of the trusted proxies, comma-separated; connections to a PROXY listener from elsewhere are refused (empty = any)")
	fs.IntVar(&c.Loops, "loops", c.Loops, "event loops (the default shown is this machine's CPU count)")
	fs.IntVar(&c.Shards, "shards", c.Shards, "registry shards")
	fs.Int64Var(&c.Node, "node", c.Node, "snowflake node number 0..1023 (distinct per server)")
	fs.IntVar(&c.MaxLine, "max-line", c.MaxLine, "longest line a client may send, bytes")
	fs.DurationVar(&c.WriteDeadline, "write-deadline", c.WriteDeadline, "cut off a client that is owed lines and whose socket takes nothing for this long")
	fs.IntVar(&c.MaxLag, "max-lag", c.MaxLag, "cut off a client this many bytes behind that is not reading; readers half this far behind hold senders back")
	fs.StringVar(&c.SlowReader, "slow-reader", c.SlowReader, "a reader that keeps holding senders back while the others keep up: cut (once it has done so for --write-deadline) or pace (slow everyone to it)")
	fs.Func("max-pending", "removed: see --write-deadline and --max-lag", func(string) error { return errMaxPendingRemoved })
	fs.Func("max-held", "removed: senders are slowed through TCP, never cut", func(string) error { return errMaxHeldRemoved })
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "concurrent connection limit (0 = as many as the open-file limit allows, less what the server keeps for itself; more than that is refused)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "how long shutdown waits for queued lines to be written")
	fs.DurationVar(&c.Coalesce, "coalesce", c.Coalesce, "upper bound of the coalescing window, which otherwise tunes itself: delivery rounds start what they cost to write divided by a duty apart, the duty falling while the CPUs are saturated and rising while they have room (0 = off: rounds as soon as lines arrive)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "connections from one source IP (0 = no limit)")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "lines/s each connection may send, token bucket (0 = no flood control)")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "lines a connection may send at once above --rate-limit (0 = the rate, rounded up)")
	fs.StringVar(&c.Flood, "flood", c.Flood, "past --rate-limit: close (send ERR flood and close) or drop (drop and count the excess)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "close connections that send nothing for this long (0 = never)")
	fs.DurationVar(&c.TCPKeepAlive, "tcp-keepalive", c.TCPKeepAlive, "TCP keep-alive: probe a peer silent this long, close it after 5 unanswered probes a fifth of this apart (a vanished peer goes within twice this; 0 = off)")
	fs.BoolVar(&c.ReusePort, "reuseport", c.ReusePort, "set SO_REUSEPORT on TCP listeners (needs a fixed port)")
	fs.Func("unix-mode", "permission bits for unix sockets, octal, e.g. 0660 (default: as the umask leaves them)", func(v string) error {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			return fmt.Errorf("not an octal mode like 0660: %q", v)
		}
		c.UnixMode = os.FileMode(m)
		return nil
	})
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "HTTP address for /metrics, /healthz, /readyz, e.g. 127.0.0.1:9100 (empty = off)")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve /debug/pprof/ on the metrics listener")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "enables DELETE /connz/{id} (kick) for requests with \"Authorization: Bearer <token>\" (empty = disabled); prefer the file or FANOUT_ADMIN_TOKEN")
	fs.StringVar(&c.AdminTokenFile, "admin-token-file", c.AdminTokenFile, "read the admin token from this file")
	fs.BoolVar(&c.AdminReads, "admin-reads", c.AdminReads, "GET /connz, /connz/{id} and /debug/pprof/ need the admin token too (they show client addresses and the process's insides)")
	fs.StringVar(&c.ClusterURLs, "cluster", c.ClusterURLs, "join a broadcast domain through NATS: nats://host:4222[,nats://…] (empty = standalone)")
	fs.StringVar(&c.ClusterSubject, "cluster-subject", c.ClusterSubject, "NATS subject of the broadcast domain")
	fs.StringVar(&c.ClusterCreds, "cluster-creds", c.ClusterCreds, "NATS credentials file")
	fs.StringVar(&c.ClusterTLSCA, "cluster-tls-ca", c.ClusterTLSCA, "CA file to verify the NATS server")
	fs.StringVar(&c.ClusterTLSCert, "cluster-tls-cert", c.ClusterTLSCert, "client certificate for NATS (with --cluster-tls-key)")
	fs.StringVar(&c.ClusterTLSKey, "cluster-tls-key", c.ClusterTLSKey, "client key for NATS")
	fs.DurationVar(&c.ClusterReconnectWait, "cluster-reconnect-wait", c.ClusterReconnectWait, "pause between reconnect attempts to NATS")
	fs.StringVar(&c.ClusterKeyFile, "cluster-key-file", c.ClusterKeyFile, "file of the cluster key (one per line, ≥ 32 bytes; a second accepted, for rotation): messages and node checks are signed with HMAC-SHA256 and only signed ones believed (empty = unauthenticated)")
	fs.StringVar(&c.WSAddr, "ws-addr", c.WSAddr, "WebSocket listener, host:port or unix:///path (several comma-separated), on the same event loops: GET /ws upgrades, GET / serves the page (empty = off)")
	fs.StringVar(&c.WSOrigin, "ws-origin", c.WSOrigin, "origins (scheme://host[:port], comma-separated) whose pages may open a WebSocket, or * for any (empty = same host only; requests without Origin are allowed)")
	fs.DurationVar(&c.WSPing, "ws-ping", c.WSPing, "ping a WebSocket client silent this long; close it when it stays silent as long again")
	fs.DurationVar(&c.WSHandshakeTimeout, "ws-handshake-timeout", c.WSHandshakeTimeout, "close a WebSocket connection whose HTTP request is not complete within this")
	fs.IntVar(&c.WSMaxHeader, "ws-max-header", c.WSMaxHeader, "longest HTTP request head on the WebSocket listener, bytes (431 past it)")
	fs.StringVar(&sf.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&sf.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&sf.readyFile, "ready-file", "", "once listening, write the bound addresses to this file (addr=… per listener, ws_addr=…, metrics_addr=…); removed at exit")
	return fs
}

// parseFlags parses args, then fills every flag not given on the command
// line from its FANOUT_* environment variable (--max-line: FANOUT_MAX_LINE).
// It returns the flags that came from the environment.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) (map[string]bool, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fromEnv := map[string]bool{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			fromEnv["--"+f.Name] = true
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("invalid value %q for %s (--%s): %v", v, name, f.Name, e)
			}
		}
	})
	return fromEnv, err
}

// unknownEnv returns the FANOUT_* variables in environ that name no flag
// of fs: most likely misspelled, and otherwise silently ignored.
func unknownEnv(fs *flag.FlagSet, environ []string) []string {
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "FANOUT_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

func envName(flagName string) string {
	return "FANOUT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q: want text or json", format)
}

func serve(args []string, stderr io.Writer, getenv func(string) string) int {
	// Lift the file limit first: the max-conns default derives from it.
	_, limitErr := sysutil.RaiseFileLimit()
	var sf serveFlags
	fs := newServeFlagSet(&sf)
	fromEnv, err := parseFlags(fs, args, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: fanout serve [flags]  (each flag also reads FANOUT_<FLAG>, e.g. FANOUT_MAX_LINE)")
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "fanout serve: %v\n", err)
		return 2
	}
	if err := sf.cfg.Validate(); err != nil {
		var ce *server.ConfigError
		if errors.As(err, &ce) && fromEnv[ce.Flag] {
			err = fmt.Errorf("%w (from %s)", err, envName(strings.TrimPrefix(ce.Flag, "--")))
		}
		fmt.Fprintf(stderr, "fanout serve: %v\n", err)
		return 2
	}
	log, err := newLogger(sf.logLevel, sf.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fanout serve: %v\n", err)
		return 2
	}
	if limitErr != nil {
		log.Warn("could not raise the open-file limit", "err", limitErr)
	}
	for _, name := range unknownEnv(fs, os.Environ()) {
		log.Warn("ignoring an environment variable that names no flag (misspelled?)", "name", name)
	}
	server.Version = versionString()
	srv, err := server.New(sf.cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "fanout serve: %v\n", err)
		return 2
	}

	// Catch signals before listening so that an early SIGTERM still drains.
	// SIGHUP is caught only to be ignored (logged): fanout has no
	// configuration file to reload and logs to stderr, which it never
	// reopens; without this, SIGHUP would end it at once (status 129).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	hups, stopHups := make(chan os.Signal, 1), make(chan struct{})
	signal.Notify(hups, syscall.SIGHUP)
	defer func() { signal.Stop(hups); close(stopHups) }()
	go func() {
		for {
			select {
			case <-hups:
				log.Info("SIGHUP ignored: fanout has no configuration to reload and logs to stderr; SIGTERM drains and stops it")
			case <-stopHups:
				return
			}
		}
	}()

	if err := srv.Start(); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	// What a sudden exit (a second signal) must still remove.
	cleanup := func() {
		if err := srv.RemoveSocketFiles(); err != nil {
			log.Warn("removing unix sockets", "err", err)
		}
		if sf.readyFile != "" {
			_ = os.Remove(sf.readyFile)
		}
	}
	defer cleanup()
	if code := announceReady(srv, sf.readyFile, log); code != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), srv.Config().DrainTimeout+10*time.Second)
		defer cancel()
		_, _ = srv.Shutdown(ctx)
		return code
	}
	code := 0
	select {
	case sig := <-sigs:
		log.Info("signal received, draining", "signal", sig.String(), "drain_timeout", srv.Config().DrainTimeout)
	case <-srv.Died():
		// The server cannot serve any more (a listener or an event loop
		// died): drain what it still can and exit non-zero, so that a
		// supervisor (systemd's Restart=on-failure) starts it again.
		log.Error("exiting: the server failed", "err", srv.Err(), "drain_timeout", srv.Config().DrainTimeout)
		code = 1
	}
	if _, err := sysutil.NotifySystemd(sysutil.SystemdStopping); err != nil {
		log.Warn("telling systemd we are stopping", "err", err)
	}
	go func() {
		sig := <-sigs
		log.Warn("second signal, exiting at once", "signal", sig.String())
		cleanup()
		os.Exit(1)
	}()
	// The drain has its own timeout; this bound only guards the engine stop.
	ctx, cancel := context.WithTimeout(context.Background(), srv.Config().DrainTimeout+10*time.Second)
	defer cancel()
	if _, err := srv.Shutdown(ctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return code
}

// announceReady tells supervisors the server listens: the ready file (when
// asked for) and systemd's READY=1 (when NOTIFY_SOCKET is set). It returns
// a non-zero exit code when the ready file cannot be written.
func announceReady(srv *server.Server, readyFile string, log *slog.Logger) int {
	if readyFile != "" {
		var lines []string
		for _, a := range srv.Addrs() {
			lines = append(lines, "addr="+a.String())
		}
		for _, a := range srv.WSAddrs() {
			lines = append(lines, "ws_addr="+a.String())
		}
		if m := srv.MetricsAddr(); m != nil {
			lines = append(lines, "metrics_addr="+m.String())
		}
		if err := sysutil.WriteReadyFile(readyFile, lines); err != nil {
			log.Error("cannot write the ready file", "err", err)
			return 1
		}
	}
	if sent, err := sysutil.NotifySystemd(sysutil.SystemdReady); err != nil {
		log.Warn("telling systemd we are ready", "err", err)
	} else if sent {
		log.Debug("told systemd we are ready")
	}
	return 0
}

// baseline runs the naive reference server (bench.Baseline).
func baseline(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", server.DefaultAddr, "TCP listen address host:port")
	readyFile := fs.String("ready-file", "", "once listening, write addr=<bound address> to this file")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "fanout baseline: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if _, err := sysutil.RaiseFileLimit(); err != nil {
		log.Warn("could not raise the open-file limit", "err", err)
	}
	if err := bench.ServeBaseline(*addr, *readyFile, log); err != nil {
		log.Error("baseline", "err", err)
		return 1
	}
	return 0
}

// versionString reports the module version, VCS commit and Go version from
// the build information.
func versionString() string {
	version, commit, goVersion := stampedVersion, "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v := bi.Main.Version; version == "" && v != "" && v != "(devel)" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					commit += "-dirty"
				}
			}
		}
	}
	if version == "" {
		version = "devel"
	}
	return fmt.Sprintf("fanout %s (commit %s, %s)", version, commit, goVersion)
}

// stampedVersion is set at build time:
// go build -ldflags "-X main.stampedVersion=$(git describe --tags --always --dirty)" -o fanout .
// Without it the version comes from the module (a tag, or a pseudo-version).
var stampedVersion string
