package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/internal/flagtext"
	"github.com/fanout/fanout/internal/sysutil"
)

// options are the `fanout bench` flags beyond the workload.
type options struct {
	scenario   string
	addrs      string
	pid        int
	baseline   bool
	compare    bool
	runs       int
	jsonOut    bool
	serverArgs string
	serverBin  string // ServerBinary, once the flags are valid
	serverLog  string // ServerLog, once the flags are valid
	cluster    string
	workers    int
	report     string
	assets     string
	serverCPUs string
	clientCPUs string
	proto      string // --proto: tcp or ws (ws.go)
}

// newFlagSet defines the bench flags on o and sc; sc's values are the
// workload and node flags' defaults.
func newFlagSet(o *options, sc *Scenario) *flag.FlagSet {
	w := &sc.Workload
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.scenario, "scenario", defaultScenario, "preset: "+scenarioNames()+" (the flags below override it)")
	fs.StringVar(&o.addrs, "addr", "", "drive the server(s) at host:port[,host:port…] instead of starting one")
	fs.IntVar(&o.pid, "pid", 0, "with --addr: the server's PID, for its CPU and RSS from /proc")
	fs.BoolVar(&o.baseline, "baseline", false, "drive the naive baseline server instead of fanout")
	fs.BoolVar(&o.compare, "compare", false, "run against fanout and the baseline, alternating, each on a fresh process, and print ratios")
	fs.IntVar(&o.runs, "runs", 1, "runs per target; figures are medians")
	fs.BoolVar(&o.jsonOut, "json", false, "print results as JSON instead of a table")
	fs.StringVar(&o.report, "report", "", "also write an HTML page with charts (rate over time, latency percentiles) to this file")
	fs.StringVar(&o.assets, "report-assets", "", "load ECharts from this URL or folder instead of inlining it (default: inlined, the page works offline)")
	fs.IntVar(&sc.Nodes, "nodes", max(sc.Nodes, 1), "start this many fanout nodes joined through NATS, clients spread over them")
	fs.IntVar(&sc.NATSServers, "nats-servers", max(sc.NATSServers, 1), "NATS servers to start for the nodes, joined as one NATS cluster by routes (each a child process)")
	fs.StringVar(&o.cluster, "cluster", "", "join the nodes through this existing NATS instead: nats://host:4222[,nats://…]")
	fs.IntVar(&o.workers, "workers", 0, fmt.Sprintf("load generator processes (0 = as many as the clients need, at most %d clients each)", maxClientsPerWorker))
	fs.StringVar(&o.serverArgs, "server-args", "", "extra flags for the fanout server it starts, e.g. \"--coalesce 0\"")
	fs.StringVar(&o.serverBin, "server-bin", "", "start this fanout binary as the server instead of this one (compare two builds)")
	fs.StringVar(&o.serverLog, "server-log", "", "append the log of every server it starts to this file (e.g. the close reasons of cut clients; see --server-args \"--log-level debug\")")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "pin the server process(es) to these CPUs, e.g. 0-3 (taskset's list syntax; Linux only)")
	fs.StringVar(&o.clientCPUs, "client-cpus", "", "pin this load generator to these CPUs, e.g. 4-15 (Linux only)")
	fs.IntVar(&w.Clients, "clients", w.Clients, "connections")
	fs.IntVar(&w.Senders, "senders", w.Senders, "how many of the connections send")
	fs.Float64Var(&w.Rate, "rate", w.Rate, "lines/s in total, paced evenly (0 = as fast as the server takes them)")
	fs.IntVar(&w.Size, "size", w.Size, fmt.Sprintf("payload bytes per line (at least %d)", MinPayloadSize))
	flagtext.DurationVar(fs, &w.Duration, "duration", w.Duration, "measured sending time")
	flagtext.DurationVar(fs, &w.Warmup, "warmup", w.Warmup, "sending time before the measured window (not counted)")
	flagtext.DurationVar(fs, &w.Drain, "drain", w.Drain, "how long to wait for in-flight lines after sending stops (0 = 10s)")
	fs.IntVar(&w.ConnectConcurrency, "connect-concurrency", w.ConnectConcurrency, "dials in flight at once (0 = 64)")
	fs.IntVar(&w.Window, "window", w.Window, "unpaced: lines each sender may have in flight (0 = 100)")
	fs.IntVar(&w.ReadBuffer, "read-buf", w.ReadBuffer, "bytes per read syscall (0 = 262144)")
	fs.IntVar(&w.RcvBuf, "rcvbuf", w.RcvBuf, "SO_RCVBUF of every client socket, set before connect, so the generator's unread bytes do not use up the host's TCP memory (0 = the kernel's autotuning)")
	fs.IntVar(&w.Stalled, "stalled", w.Stalled, "extra connections that never read")
	fs.BoolVar(&w.Blast, "blast", w.Blast, "unpaced senders write as fast as the socket takes them, with no in-flight window")
	fs.IntVar(&w.Burst, "burst", w.Burst, "bytes each sender writes at once at the start, then stops (needs --rate 0)")
	fs.StringVar(&w.Proxy, "proxy-protocol", w.Proxy, "begin every connection with a PROXY header, v1 or v2, as a TLS terminator would; a fanout it starts gets --proxy-protocol (empty = none)")
	flagtext.DurationVar(fs, &w.After, "after", w.After, "probe a lone line's latency on the idle server before the load; after the clients leave, wait this long, report the server's RSS and probe again")
	fs.IntVar(&w.SlowReaders, "slow-readers", w.SlowReaders, "the last N receiving clients read at most --slow-read-rate each (paced, never faster); reported apart")
	fs.Float64Var(&w.SlowReadRate, "slow-read-rate", w.SlowReadRate, "bytes/s each slow reader reads (0 = 1000000)")
	fs.BoolVar(&w.CloseWrite, "close-write", w.CloseWrite, "after its --burst each sender shuts its sending side, as `cat file | nc -N` does")
	fs.StringVar(&o.proto, "proto", "tcp", "the clients' protocol: tcp (lines) or ws (WebSocket, through the server's --ws-addr)")
	fs.Float64Var(&w.WSShare, "ws-share", w.WSShare, "share of the clients that are WebSocket clients, 0..1, spread evenly (e.g. 0.5: every second one); --proto ws is 1")
	fs.StringVar(&w.WSAddr, "ws-addr", w.WSAddr, "with --addr: the server's WebSocket listener(s), host:port[,…]")
	return fs
}

// defaultScenario is the preset a run without --scenario uses.
const defaultScenario = "saturate"

// Main is the `fanout bench` subcommand; it returns the exit code: 0, 1
// when a run fails, 2 for bad flags. Run by the harness as one of its
// children (roleEnv set), it plays that role.
func Main(args []string, stdout, stderr io.Writer) int {
	if role := os.Getenv(roleEnv); role != "" {
		return runChild(role, args, stdout, stderr)
	}
	o, sc, err := parseOptions(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		writeUsage(stdout)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "fanout bench: %v\n", err)
		return 2
	}
	if err := o.run(sc, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "fanout bench: %v\n", err)
		return 1
	}
	return 0
}

// runChild plays role, one of the children the harness starts.
func runChild(role string, args []string, stdout, stderr io.Writer) int {
	switch role {
	case "worker":
		return runWorker(os.Stdin, stdout, stderr)
	case "nats":
		return runNATSChild(args, os.Stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "fanout bench: unknown %s %q\n", roleEnv, role)
	return 2
}

// parseOptions reads the command line in two passes: the first finds the
// scenario, whose preset then gives the workload flags their defaults,
// and the second lays the command line over them. It returns the options
// and scenario once validate accepts them.
func parseOptions(args []string) (*options, Scenario, error) {
	var o options
	var probe Scenario
	fs := newFlagSet(&o, &probe)
	if err := fs.Parse(args); err != nil {
		return nil, Scenario{}, flagtext.Dashed(fs, err)
	}
	sc, err := ScenarioByName(o.scenario)
	if err != nil {
		return nil, Scenario{}, fmt.Errorf("--scenario: %w", err)
	}
	if err := newFlagSet(&o, &sc).Parse(args); err != nil {
		return nil, Scenario{}, flagtext.Dashed(fs, err) // cannot happen: the same args parsed above
	}
	if err := o.validate(&sc); err != nil {
		return nil, Scenario{}, err
	}
	return &o, sc, nil
}

// validate checks the flags against each other and against sc, the
// scenario they chose, and applies the ones that reach beyond o (--cluster
// and --proto ws into sc, --server-bin and --server-log into ServerBinary
// and ServerLog). Every error names its flags as --x.
func (o *options) validate(sc *Scenario) error {
	if err := sc.Validate(); err != nil {
		return err
	}
	if o.proto == "ws" && sc.WSShare == 0 {
		sc.WSShare = 1 // every client
	}
	local, wsClients := o.addrs == "", sc.WSShare > 0
	switch {
	case o.runs < 1:
		return fmt.Errorf("--runs must be at least 1, got %d", o.runs)
	case o.compare && (!local || o.baseline):
		return errors.New("--compare starts its own servers: no --addr or --baseline")
	case sc.Proxy != "" && (o.baseline || o.compare):
		return errors.New("--proxy-protocol drives fanout only: the baseline takes no PROXY header (no --baseline or --compare)")
	case sc.Nodes < 1 || sc.NATSServers < 1:
		return fmt.Errorf("--nodes and --nats-servers must be at least 1, got %d and %d", sc.Nodes, sc.NATSServers)
	case o.clustered(*sc) && (!local || o.baseline || o.compare):
		return errors.New("with more than one of --nodes or --nats-servers, or with --cluster, it starts fanout nodes itself: " +
			"no --addr, --baseline or --compare")
	case o.workers < 0 || o.workers > sc.Clients:
		return fmt.Errorf("--workers must be 0..clients (%d), got %d", sc.Clients, o.workers)
	case o.serverCPUs != "" && !local && o.pid == 0:
		return errors.New("--server-cpus with --addr needs the server's --pid")
	case o.proto != "tcp" && o.proto != "ws":
		return fmt.Errorf("--proto must be tcp or ws, got %q", o.proto)
	case !wsClients && sc.WSAddr != "":
		return errors.New("--ws-addr needs WebSocket clients: --proto ws or --ws-share")
	case wsClients && (o.baseline || o.compare):
		return errors.New("WebSocket clients drive fanout only: the baseline has no WebSocket listener (no --baseline or --compare)")
	case wsClients && o.clustered(*sc):
		return errors.New("WebSocket clients drive one fanout node (no --nodes, --nats-servers or --cluster)")
	case wsClients && !local && sc.WSAddr == "":
		return errors.New("with --addr, WebSocket clients need the server's --ws-addr")
	case local && sc.WSAddr != "":
		return errors.New("--ws-addr names an external server's WebSocket listener: it needs --addr")
	}
	if o.cluster != "" {
		if err := cluster.CheckURLs(o.cluster); err != nil {
			return fmt.Errorf("--cluster: %w", err)
		}
		sc.Cluster = o.cluster // none started: the nodes join it
	}
	for _, l := range []struct{ flag, list string }{{"--server-cpus", o.serverCPUs}, {"--client-cpus", o.clientCPUs}} {
		if _, err := sysutil.ParseCPUList(l.list); l.list != "" && err != nil {
			return fmt.Errorf("%s: %w", l.flag, err)
		}
	}
	ServerBinary, ServerLog = o.serverBin, o.serverLog
	return nil
}

// run pins the generator, measures sc and prints the results.
func (o *options) run(sc Scenario, stdout, stderr io.Writer) error {
	if o.clientCPUs != "" {
		if err := sysutil.PinProcess(0, o.clientCPUs); err != nil {
			return fmt.Errorf("--client-cpus: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	results, err := o.execute(ctx, sc, stderr)
	if err != nil {
		return err
	}
	if o.report != "" {
		if err := writeReportFile(o.report, sc, results, o.assets); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "report written to %s\n", o.report)
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	fmt.Fprintf(stdout, "%s\n%s\n%d run(s), medians\n\n", describe(sc), describeMachine(results[0].Machine), o.runs)
	if err := WriteTable(stdout, results); err != nil {
		return err
	}
	writeNodes(stdout, results)
	return nil
}

// writeNodes lists each node's figures under the table, when a run had
// several (of the first run, when runs were merged into medians).
func writeNodes(w io.Writer, results []*Result) {
	for _, r := range results {
		if len(r.Nodes) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s, each node (peak RSS MiB, CPU s):", r.Target)
		for i, n := range r.Nodes {
			fmt.Fprintf(w, " %d: %.1f, %.2f;", i+1, float64(n.PeakRSSBytes)/(1<<20), n.CPUSeconds)
		}
		fmt.Fprintln(w)
	}
}

func writeReportFile(path string, sc Scenario, results []*Result, assets string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := WriteReport(f, sc, results, assets); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// execute runs the scenario against each target o.runs times and returns
// one median result per target.
func (o *options) execute(ctx context.Context, sc Scenario, log io.Writer) ([]*Result, error) {
	kinds := []string{"fanout"}
	switch {
	case o.compare:
		kinds = []string{"fanout", "baseline"}
	case o.baseline:
		kinds = []string{"baseline"}
	}
	byKind := map[string][]*Result{}
	warned := false
	for run := 1; run <= o.runs; run++ {
		for _, kind := range kinds { // alternating, so drift hits both
			res, err := o.once(ctx, kind, sc, log)
			if err != nil {
				return nil, fmt.Errorf("%s run %d: %w", kind, run, err)
			}
			res.Scenario = sc.Name
			if res.Machine.SharedCPUs && !warned {
				fmt.Fprintf(log, "%s%s\n", endProgressLine(log), sharedCPUsWarning(res.Machine))
				warned = true
			}
			fmt.Fprintf(log, "%s%s run %d/%d: %.0f deliveries/s, lost %d, p99 %.2f ms\n",
				endProgressLine(log), res.Target, run, o.runs, res.DeliveredPerSec, res.Lost, res.LatencyMs.P99)
			byKind[kind] = append(byKind[kind], res)
		}
	}
	var out []*Result
	for _, kind := range kinds {
		out = append(out, median(byKind[kind]))
	}
	return out, nil
}

// once runs one measurement on a fresh server (or on --addr).
func (o *options) once(ctx context.Context, kind string, sc Scenario, log io.Writer) (*Result, error) {
	progress := progressPrinter(log)
	if o.addrs != "" {
		t := Target{Name: o.addrs, Addrs: strings.Split(o.addrs, ",")}
		if o.pid > 0 {
			t.PIDs = []int{o.pid}
		}
		if err := o.pinServer(t); err != nil {
			return nil, err
		}
		return o.drive(ctx, t, sc.Workload, progress)
	}
	if kind == "fanout" && o.clustered(sc) {
		c, err := StartNodes(NodesConfig{Nodes: sc.Nodes, NATSServers: sc.NATSServers, ClusterURLs: o.cluster,
			ExtraArgs: o.serverFlags(sc)})
		if err != nil {
			return nil, err
		}
		res, err := o.pinAndRun(ctx, c.Target, sc, progress)
		if stopErr := c.Stop(30 * time.Second); err == nil && stopErr != nil {
			err = stopErr
		}
		return res, err
	}
	p, err := StartProcess(kind, o.serverFlags(sc))
	if err != nil {
		return nil, err
	}
	sc.WSAddr = strings.Join(p.WSAddrs, ",")
	res, err := o.pinAndRun(ctx, p.Target, sc, progress)
	if stopErr := p.Stop(30 * time.Second); err == nil && stopErr != nil {
		err = stopErr
	}
	return res, err
}

// serverFlags are the extra flags for a fanout server the harness starts.
func (o *options) serverFlags(sc Scenario) []string {
	args := strings.Fields(o.serverArgs)
	if sc.Proxy != "" {
		args = append(args, "--proxy-protocol")
	}
	return append(args, wsServerFlags(sc)...)
}

// pinServer pins the target's processes to --server-cpus, if given.
func (o *options) pinServer(t Target) error {
	if o.serverCPUs == "" {
		return nil
	}
	for _, pid := range t.PIDs {
		if err := sysutil.PinProcess(pid, o.serverCPUs); err != nil {
			return fmt.Errorf("--server-cpus: %w", err)
		}
	}
	return nil
}

func (o *options) pinAndRun(ctx context.Context, t Target, sc Scenario, progress func(time.Duration, uint64)) (*Result, error) {
	if err := o.pinServer(t); err != nil {
		return nil, err
	}
	return o.drive(ctx, t, sc.Workload, progress)
}

// drive runs w from this process when its clients fit under the file
// limit, else (or with --workers) from worker processes.
func (o *options) drive(ctx context.Context, t Target, w Workload, progress func(time.Duration, uint64)) (*Result, error) {
	n := o.workers
	if n == 0 {
		n = WorkersFor(w)
	}
	run := func() (*Result, error) { return RunWorkers(ctx, t, w, n, progress) }
	if n == 0 {
		run = func() (*Result, error) { return Run(ctx, t, w, progress) }
	}
	res, err := run()
	if err != nil {
		return nil, err
	}
	res.Machine = machine(t, o.addrs == "" || onThisHost(t.Addrs)) // while the servers live: their CPUs are read
	return res, nil
}

// clustered says whether the run starts nodes joined through NATS.
func (o *options) clustered(sc Scenario) bool {
	return sc.Nodes > 1 || sc.NATSServers > 1 || o.cluster != ""
}

// progressPrinter returns a live progress line writer when log is a
// terminal, nil (silent) otherwise.
func progressPrinter(log io.Writer) func(time.Duration, uint64) {
	if !isTerminal(log) {
		return nil
	}
	return func(elapsed time.Duration, delivered uint64) {
		fmt.Fprintf(log, "\r%6.1fs  %10d deliveries/s   ", elapsed.Seconds(), delivered)
	}
}

// endProgressLine returns the newline that ends a live progress line on a
// terminal, so what follows starts on a line of its own.
func endProgressLine(log io.Writer) string {
	if isTerminal(log) {
		return "\n"
	}
	return ""
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// median returns, per field that the table shows, the median over runs;
// the counters of loss come from the worst run, so a loss is never hidden.
func median(rs []*Result) *Result {
	if len(rs) == 1 {
		return rs[0]
	}
	out := *rs[0]
	pick := func(get func(*Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	out.DeliveredPerSec = pick(func(r *Result) float64 { return r.DeliveredPerSec })
	out.DeliveredMBPerSec = pick(func(r *Result) float64 { return r.DeliveredMBPerSec })
	out.LatencyMs = Latency{
		P50:  pick(func(r *Result) float64 { return r.LatencyMs.P50 }),
		P90:  pick(func(r *Result) float64 { return r.LatencyMs.P90 }),
		P99:  pick(func(r *Result) float64 { return r.LatencyMs.P99 }),
		P999: pick(func(r *Result) float64 { return r.LatencyMs.P999 }),
		Max:  pick(func(r *Result) float64 { return r.LatencyMs.Max }),
	}
	out.ConnectSeconds = pick(func(r *Result) float64 { return r.ConnectSeconds })
	out.ServerCPUSeconds = pick(func(r *Result) float64 { return r.ServerCPUSeconds })
	out.ServerCPUMicrosPerDelivery = pick(func(r *Result) float64 { return r.ServerCPUMicrosPerDelivery })
	out.ServerBytesPerConn = pick(func(r *Result) float64 { return r.ServerBytesPerConn })
	out.ServerPeakBytesPerConn = pick(func(r *Result) float64 { return r.ServerPeakBytesPerConn })
	out.NATSCPUSeconds = pick(func(r *Result) float64 { return r.NATSCPUSeconds })
	out.GeneratorCPUSeconds = pick(func(r *Result) float64 { return r.GeneratorCPUSeconds })
	out.SentPerSec = pick(func(r *Result) float64 { return r.SentPerSec })
	out.SentMBPerSec = pick(func(r *Result) float64 { return r.SentMBPerSec })
	out.SentPerSecAfterCut = pick(func(r *Result) float64 { return r.SentPerSecAfterCut })
	out.ProbeBefore = medianProbe(rs, func(r *Result) *Probe { return r.ProbeBefore })
	out.ProbeAfter = medianProbe(rs, func(r *Result) *Probe { return r.ProbeAfter })
	for _, r := range rs {
		out.ReadersCut = max(out.ReadersCut, r.ReadersCut)
		out.SendersCut = max(out.SendersCut, r.SendersCut)
		out.StalledCut = min(out.StalledCut, r.StalledCut)
		out.SlowReadersCut = min(out.SlowReadersCut, r.SlowReadersCut) // the issue wants them cut: fewer is worse
		out.SlowCutLastSeconds = max(out.SlowCutLastSeconds, r.SlowCutLastSeconds)
		out.SlowLost = max(out.SlowLost, r.SlowLost)
		out.SendersClosed = min(out.SendersClosed, r.SendersClosed)
		out.ServerRSSAfterBytes = max(out.ServerRSSAfterBytes, r.ServerRSSAfterBytes)
		out.Lost = max(out.Lost, r.Lost)
		out.LostGaps = max(out.LostGaps, r.LostGaps)
		out.Duplicates = max(out.Duplicates, r.Duplicates)
		out.ServerPeakRSSBytes = max(out.ServerPeakRSSBytes, r.ServerPeakRSSBytes)
		out.NATSPeakRSSBytes = max(out.NATSPeakRSSBytes, r.NATSPeakRSSBytes)
	}
	return &out
}

// medianProbe is the median of each figure of the runs' probes (the fewest
// lines received), nil when no run had one.
func medianProbe(rs []*Result, get func(*Result) *Probe) *Probe {
	var ps []*Probe
	for _, r := range rs {
		if p := get(r); p != nil {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	pick := func(f func(*Probe) float64) float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = f(p)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	out := *ps[0]
	out.P50Ms = pick(func(p *Probe) float64 { return p.P50Ms })
	out.P99Ms = pick(func(p *Probe) float64 { return p.P99Ms })
	out.MaxMs = pick(func(p *Probe) float64 { return p.MaxMs })
	for _, p := range ps {
		out.Received = min(out.Received, p.Received)
		if out.Error == "" {
			out.Error = p.Error
		}
	}
	return &out
}

// describe says which workload ran: the preset's note only when no flag
// changed it, then the figures actually used.
func describe(sc Scenario) string {
	var b strings.Builder
	if preset, _ := ScenarioByName(sc.Name); preset == sc {
		fmt.Fprintf(&b, "scenario %s: %s\n", sc.Name, sc.Note)
	} else {
		fmt.Fprintf(&b, "scenario %s, changed by flags:\n", sc.Name)
	}
	switch {
	case sc.Senders == 0:
		fmt.Fprintf(&b, "clients %d, no senders, %s measured", sc.Clients, sc.Duration)
	case sc.Rate == 0:
		fmt.Fprintf(&b, "clients %d, senders %d, unpaced, size %d B, %s measured after %s warm-up",
			sc.Clients, sc.Senders, max(sc.Size, MinPayloadSize), sc.Duration, sc.Warmup)
	default:
		fmt.Fprintf(&b, "clients %d, senders %d, %g lines sent/s in total (%g deliveries/s asked), size %d B, %s measured after %s warm-up",
			sc.Clients, sc.Senders, sc.Rate, sc.Rate*float64(sc.Clients-1), max(sc.Size, MinPayloadSize), sc.Duration, sc.Warmup)
	}
	if sc.Stalled > 0 || sc.Blast || sc.Burst > 0 {
		fmt.Fprintf(&b, "\nstalled clients %d, blast %t, burst %d B per sender", sc.Stalled, sc.Blast, sc.Burst)
		if sc.CloseWrite {
			b.WriteString(", each sender shuts its side after its burst")
		}
	}
	if sc.SlowReaders > 0 {
		rate := sc.SlowReadRate
		if rate == 0 {
			rate = defaultSlowReadRate
		}
		fmt.Fprintf(&b, "\nslow readers %d (the last clients), each reading at most %g B/s", sc.SlowReaders, rate)
	}
	if sc.RcvBuf > 0 {
		fmt.Fprintf(&b, "\nclient sockets' receive buffer fixed at %d B (SO_RCVBUF)", sc.RcvBuf)
	}
	if sc.After > 0 {
		fmt.Fprintf(&b, "\nlatency probe (a line every %s, %d lines) before the load and %s after it", probeInterval, probeLines, sc.After)
	}
	switch {
	case sc.Cluster != "":
		fmt.Fprintf(&b, "\n%d fanout node(s) through an existing NATS (--cluster)", sc.Nodes)
	case sc.Nodes > 1 || sc.NATSServers > 1:
		fmt.Fprintf(&b, "\n%d fanout nodes through %d NATS server(s) started by the harness", sc.Nodes, sc.NATSServers)
	}
	if sc.WSShare > 0 {
		fmt.Fprintf(&b, "\n%g of the clients are WebSocket clients", sc.WSShare)
	}
	if sc.Proxy != "" {
		fmt.Fprintf(&b, "\nevery connection begins with a PROXY %s header", sc.Proxy)
	}
	return b.String()
}
