package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Workload is what one run asks of the target. In JSON (--json, and to
// the workers) its keys are the flags' names in snake_case, and its
// durations are seconds, named <flag>_seconds, as a result's durations
// are (its latencies are milliseconds, named _ms).
type Workload struct {
	Clients            int           `json:"clients"`             // connections
	Senders            int           `json:"senders"`             // how many of them send (the first Senders)
	Rate               float64       `json:"rate"`                // lines/s in total, paced evenly; 0 = as fast as taken
	Size               int           `json:"size"`                // payload bytes per line
	Duration           time.Duration `json:"-"`                   // measured sending time
	Warmup             time.Duration `json:"-"`                   // sending before the measured window, not counted
	Drain              time.Duration `json:"-"`                   // wait for in-flight lines after sending stops
	ConnectConcurrency int           `json:"connect_concurrency"` // dials in flight at once
	Window             int           `json:"window"`              // unpaced: lines a sender may have in flight
	ReadBuffer         int           `json:"read_buf"`            // bytes each reader goroutine reads per syscall
	RcvBuf             int           `json:"rcvbuf"`              // SO_RCVBUF of every client socket, set before connect; 0 = the kernel's autotuning
	Stalled            int           `json:"stalled"`             // extra connections that never read (slow consumers)
	Blast              bool          `json:"blast"`               // unpaced senders write as fast as the socket takes, no window
	Burst              int           `json:"burst"`               // bytes each sender writes at once at the start, then stops; 0 = none
	After              time.Duration `json:"-"`                   // probe latency before the load; after the clients leave, wait this long, sample the server's RSS and probe again
	Proxy              string        `json:"proxy_protocol"`      // "v1" or "v2": every connection begins with a PROXY header of that version; "" none
	SlowReaders        int           `json:"slow_readers"`        // the last SlowReaders clients (never senders) read at most SlowReadRate each
	SlowReadRate       float64       `json:"slow_read_rate"`      // bytes/s each slow reader reads; 0 = 1 000 000 when there are slow readers
	CloseWrite         bool          `json:"close_write"`         // after its burst each sender shuts its sending side (shutdown SHUT_WR, as `cat file | nc -N`)
	WSShare            float64       `json:"ws_share"`            // share of the connections that are WebSocket clients, 0..1, spread evenly (ws.go)
	WSAddr             string        `json:"ws_addr"`             // where the WebSocket clients connect, host:port[,…]: set by the harness from the target
}

// workloadTimes are a Workload's durations as JSON has them: seconds.
type workloadTimes struct {
	Duration float64 `json:"duration_seconds"`
	Warmup   float64 `json:"warmup_seconds"`
	Drain    float64 `json:"drain_seconds"`
	After    float64 `json:"after_seconds"`
}

// plainWorkload is a Workload without its JSON methods.
type plainWorkload Workload

// MarshalJSON writes w with snake_case keys and its durations in seconds.
func (w Workload) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainWorkload
		workloadTimes
	}{plainWorkload(w), workloadTimes{w.Duration.Seconds(), w.Warmup.Seconds(), w.Drain.Seconds(), w.After.Seconds()}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *Workload) UnmarshalJSON(b []byte) error {
	var v struct {
		*plainWorkload
		workloadTimes
	}
	v.plainWorkload = (*plainWorkload)(w)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	seconds := func(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
	t := v.workloadTimes
	w.Duration, w.Warmup, w.Drain, w.After = seconds(t.Duration), seconds(t.Warmup), seconds(t.Drain), seconds(t.After)
	return nil
}

// Scenario is a named preset: the Workload and the target's shape.
type Scenario struct {
	Name        string
	Note        string
	Nodes       int    // fanout nodes the harness starts (0 = 1)
	NATSServers int    // NATS servers joining them as one cluster (0 = 1); none with Cluster
	Cluster     string // an existing NATS the nodes join instead (--cluster)
	Workload
}

// Scenarios are the named presets, in the order BENCHMARKS.md uses.
var Scenarios = []Scenario{
	{Name: "room", Note: "1 000 clients all sending, 1 000 lines/s in total: ~1 M deliveries/s asked", Workload: Workload{
		Clients: 1000, Senders: 1000, Rate: 1000, Size: 64, Duration: 10 * time.Second, Warmup: 2 * time.Second}},
	{Name: "saturate", Note: "1 000 clients, 10 senders as fast as the server takes them", Workload: Workload{
		Clients: 1000, Senders: 10, Rate: 0, Size: 64, Duration: 10 * time.Second, Warmup: 2 * time.Second}},
	{Name: "bigroom", Note: "5 000 clients, 50 senders, 200 lines/s: ~1 M deliveries/s asked", Workload: Workload{
		Clients: 5000, Senders: 50, Rate: 200, Size: 64, Duration: 10 * time.Second, Warmup: 2 * time.Second}},
	{Name: "idle", Note: "10 000 idle connections: server memory per connection", Workload: Workload{
		Clients: 10000, Senders: 0, Size: 64, Duration: 2 * time.Second}},
	{Name: "burst", Note: "one sender writes 32 MiB at once to 200 readers", Workload: Workload{
		Clients: 201, Senders: 1, Size: 1000, Blast: true, Burst: 32 << 20, Duration: 5 * time.Second, Drain: 60 * time.Second}},
	{Name: "stalled", Note: "1 000 clients that never read, 5 readers, 5 unpaced senders (--blast: with no window)", Workload: Workload{
		Clients: 10, Senders: 5, Stalled: 1000, Size: 64, Duration: 20 * time.Second}},
	{Name: "overload", Note: "20 unpaced senders to 500 readers (--blast: with no window)", Workload: Workload{
		Clients: 520, Senders: 20, Size: 64, Duration: 20 * time.Second}},
	{Name: "fill", Note: "as many connections as one server holds under the file limit, each receiving a trickle", Workload: Workload{
		Clients: 19000, Senders: 1, Rate: 10, Size: 64, Duration: 10 * time.Second, Warmup: 2 * time.Second}},
	{Name: "scale", Note: "100 000 clients over 6 nodes and a 3-server NATS cluster, 1 line/s in total: 100 000 deliveries/s",
		Nodes: 6, NATSServers: 3, Workload: Workload{
			Clients: 100000, Senders: 10, Rate: 1, Size: 64, Duration: 20 * time.Second, Warmup: 2 * time.Second}},
	// The back-pressure targets (issue 19). The 20-sender overload and the
	// 1 000 never-reading clients with blasting senders are `overload
	// --blast` and `stalled --blast`.
	{Name: "slowreader", Note: "one unpaced publisher (--blast) of 1 000-byte lines, one reader paced at 1 MB/s, ten fast readers", Workload: Workload{
		Clients: 12, Senders: 1, Blast: true, Size: 1000, SlowReaders: 1, SlowReadRate: 1e6, Duration: 20 * time.Second}},
	{Name: "halfspeed", Note: "a publisher paced at 20 MB/s (20 000 lines/s of 1 000 B), one reader paced at 10 MB/s, ten fast readers", Workload: Workload{
		Clients: 12, Senders: 1, Rate: 20000, Size: 1000, SlowReaders: 1, SlowReadRate: 10e6, Duration: 40 * time.Second}},
	{Name: "file", Note: "one sender writes 200 MB of 1 000-byte lines in blocking writes, then shuts its side (cat file | nc -N), to 10 readers", Workload: Workload{
		Clients: 11, Senders: 1, Blast: true, Size: 1000, Burst: 200_000_000, CloseWrite: true, Duration: 10 * time.Second, Drain: 60 * time.Second}},
}

// scenarioNames lists the presets for help and errors.
func scenarioNames() string {
	names := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// ScenarioByName returns the named preset.
func ScenarioByName(name string) (Scenario, error) {
	for _, s := range Scenarios {
		if s.Name == name {
			s.Nodes, s.NATSServers = max(s.Nodes, 1), max(s.NATSServers, 1)
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (have %s)", name, scenarioNames())
}

// withDefaults fills unset tuning fields.
func (w Workload) withDefaults() Workload {
	if w.ConnectConcurrency <= 0 {
		w.ConnectConcurrency = 64
	}
	if w.Window <= 0 {
		w.Window = 100
	}
	if w.ReadBuffer <= 0 {
		w.ReadBuffer = 256 << 10
	}
	if w.Drain <= 0 {
		w.Drain = 10 * time.Second
	}
	if w.Size < MinPayloadSize {
		w.Size = MinPayloadSize
	}
	if w.SlowReaders > 0 && w.SlowReadRate == 0 {
		w.SlowReadRate = defaultSlowReadRate
	}
	return w
}

// defaultSlowReadRate is a slow reader's pace when none is given: the
// issue's 1 MB/s reader.
const defaultSlowReadRate = 1e6

// windowed says whether the senders are unpaced with an in-flight window,
// waiting for the next client's acknowledgements.
func (w Workload) windowed() bool { return w.Rate == 0 && !w.Blast && w.Burst == 0 && w.Senders > 0 }

// isSlow says whether client i is one of the slow readers: the last
// SlowReaders clients.
func (w Workload) isSlow(i int) bool { return i >= w.Clients-w.SlowReaders }

// Validate reports a workload that cannot run, naming the flag.
func (w Workload) Validate() error {
	switch {
	case w.Clients < 1:
		return fmt.Errorf("--clients must be at least 1, got %d", w.Clients)
	case w.Senders < 0 || w.Senders > w.Clients:
		return fmt.Errorf("--senders must be 0..clients (%d), got %d", w.Clients, w.Senders)
	case w.Senders > 0 && w.Clients < 2:
		return fmt.Errorf("--clients must be at least 2 when anyone sends")
	case w.Rate < 0:
		return fmt.Errorf("--rate must not be negative, got %g", w.Rate)
	case w.Size > 60<<10:
		return fmt.Errorf("--size must be at most %d, got %d", 60<<10, w.Size)
	case w.Duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", w.Duration)
	case w.Warmup < 0:
		return fmt.Errorf("--warmup must not be negative, got %s", w.Warmup)
	case w.Stalled < 0:
		return fmt.Errorf("--stalled must not be negative, got %d", w.Stalled)
	case w.Burst < 0 || (w.Burst > 0 && w.Rate > 0):
		return fmt.Errorf("--burst must be ≥ 0 and needs --rate 0, got %d at rate %g", w.Burst, w.Rate)
	case w.After < 0:
		return fmt.Errorf("--after must not be negative, got %s", w.After)
	case w.Proxy != "" && w.Proxy != "v1" && w.Proxy != "v2":
		return fmt.Errorf("--proxy-protocol must be v1 or v2 (or empty), got %q", w.Proxy)
	case w.SlowReaders < 0 || w.SlowReaders > w.Clients-w.Senders:
		return fmt.Errorf("--slow-readers must be 0..clients-senders (%d), got %d", w.Clients-w.Senders, w.SlowReaders)
	case w.SlowReadRate < 0 || (w.SlowReadRate > 0 && w.SlowReadRate < 1):
		return fmt.Errorf("--slow-read-rate must be at least 1 byte/s (or 0 for the default), got %g", w.SlowReadRate)
	case w.windowed() && w.SlowReaders > 0 && w.SlowReaders == w.Clients-w.Senders:
		return fmt.Errorf("--slow-readers %d leaves no fast reader to acknowledge the windowed senders' lines; use fewer, --rate or --blast", w.SlowReaders)
	case w.CloseWrite && w.Burst == 0:
		return fmt.Errorf("--close-write shuts a sender's side after its burst: it needs --burst")
	case w.RcvBuf < 0 || (w.RcvBuf > 0 && w.RcvBuf < 4096):
		return fmt.Errorf("--rcvbuf must be at least 4096 bytes (or 0 for the kernel's autotuning), got %d", w.RcvBuf)
	case w.WSShare < 0 || w.WSShare > 1:
		return fmt.Errorf("--ws-share must be 0..1, got %g", w.WSShare)
	}
	return nil
}
