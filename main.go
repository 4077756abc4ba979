// Command fanout is a sharded, high-throughput TCP broadcast server.
//
//	fanout serve [flags]   run the daemon
//	fanout bench [flags]   run the load-generating benchmark harness
//	fanout baseline [flags] run the naive reference server
//	fanout version         print version information (also --version)
//
// main owns the command line: subcommands, parsing (flags, then FANOUT_*
// variables), the messages a bad one gets (worded by internal/flagtext:
// flags spelt --name, durations that need a unit), logging, signals and
// the ready file. The serve flags
// themselves belong to server (server.RegisterFlags), bench's to bench.
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
	"strings"
	"syscall"
	"time"

	"github.com/fanout/fanout/bench"
	"github.com/fanout/fanout/internal/flagtext"
	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/server"
)

const usage = `usage: fanout <command> [flags]

commands:
  serve     run the broadcast daemon
  bench     run the load-generating benchmark harness
  baseline  run the naive reference server the benchmarks compare with
  version   print version information (also: fanout --version)

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
		bench.Build = buildInfo()
		return bench.Main(args[1:], stdout, stderr)
	case "baseline":
		return baseline(args[1:], stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fanout: unknown command %q\n%s", args[0], usage)
	return 2
}

// serveFlags binds the serve flags to cfg and the log settings.
type serveFlags struct {
	cfg       server.Config
	logLevel  string
	logFormat string
	readyFile string
}

// newServeFlagSet binds the serve flags to sf, starting from the defaults
// (server.DefaultConfig: one loop per CPU, max-conns from the file limit).
// The server registers the flags of its Config; main only its own.
func newServeFlagSet(sf *serveFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by the caller
	sf.cfg = server.DefaultConfig()
	server.RegisterFlags(fs, &sf.cfg)
	// main's own flags: how it logs and tells supervisors it is ready.
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
		return nil, flagtext.Dashed(fs, err)
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
				err = fmt.Errorf("invalid value %q for %s (--%s): %v", v, name, f.Name, flagtext.Explain(f, e))
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
			flagtext.PrintFlags(stderr, fs, false)
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
	server.Build = buildInfo()
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
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: fanout baseline [flags]  (the naive reference server the benchmarks compare with)")
			flagtext.PrintFlags(stderr, fs, false)
			return 0
		}
		fmt.Fprintf(stderr, "fanout baseline: %v\n", flagtext.Dashed(fs, err))
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fanout baseline: unexpected argument %q\n", fs.Arg(0))
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

// versionString is what `fanout version` prints: the version, VCS commit
// and Go version from the build information.
func versionString() string {
	b := buildInfo()
	return fmt.Sprintf("fanout %s (commit %s, %s)", b.Version, b.GitCommit, b.GoVersion)
}

// buildInfo reads the module version, VCS commit and Go version from the
// build information (the version stamped at build time first).
func buildInfo() server.BuildInfo {
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
	return server.BuildInfo{Version: version, GitCommit: commit, GoVersion: goVersion}
}

// stampedVersion is set at build time:
// go build -ldflags "-X main.stampedVersion=$(git describe --tags --always --dirty)" -o fanout .
// Without it the version comes from the module (a tag, or a pseudo-version).
var stampedVersion string
