package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Latency holds end-to-end latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Result is one run's measurements.
type Result struct {
	Target   string   `json:"target"`
	Scenario string   `json:"scenario,omitempty"`
	Workload Workload `json:"workload"`
	Machine  Machine  `json:"machine"`

	ConnectSeconds float64 `json:"connect_seconds"`
	DrainSeconds   float64 `json:"drain_seconds"`

	LinesSent          uint64  `json:"lines_sent"`
	DeliveriesExpected uint64  `json:"deliveries_expected"`
	Received           uint64  `json:"deliveries_received"`
	Lost               uint64  `json:"lost"`      // lines that had not arrived when the drain ended (dropped, or still on their way)
	LostGaps           uint64  `json:"lost_gaps"` // of Lost, lines skipped while later lines of their sender arrived: dropped, not late
	Duplicates         uint64  `json:"duplicates_or_reordered"`
	Foreign            uint64  `json:"foreign_lines"`
	ReadErrors         int     `json:"read_errors"`
	FirstReadError     string  `json:"first_read_error,omitempty"`
	ReadersCut         int     `json:"readers_cut"`          // receiving-only clients (slow readers apart) the server closed before the end
	SendersCut         int     `json:"senders_cut"`          // sending clients the server closed before the end (or before they shut their side)
	StalledCut         int     `json:"stalled_cut"`          // stalled clients the server had closed by the end
	SendersClosed      int     `json:"senders_closed_write"` // senders that wrote their whole burst and shut their side (--close-write)
	SentPerSec         float64 `json:"lines_sent_per_sec"`
	SentMBPerSec       float64 `json:"sent_mb_per_sec"` // SentPerSec in payload bytes (newline included)
	// SentTimeline is lines the senders wrote in each second from the
	// first line sent (of the first run, when runs are merged).
	SentTimeline []float64 `json:"sent_timeline_per_sec"`

	// Slow readers (--slow-readers) are accounted apart: the deliveries,
	// loss and cuts above are the other clients'. A cut slow reader's
	// missing lines are SlowLost, never Lost.
	SlowReadersCut      int       `json:"slow_readers_cut"`
	SlowCutAfterSeconds []float64 `json:"slow_cut_after_seconds,omitempty"` // each cut slow reader: from the first line sent to its cut, ascending
	SlowCutLastSeconds  float64   `json:"slow_cut_last_seconds,omitempty"`  // the last of them
	SlowReceived        uint64    `json:"slow_deliveries_received"`
	SlowLost            uint64    `json:"slow_lost"`                         // lines slow readers had not got when they were cut or the run ended
	SlowReadRates       []float64 `json:"slow_read_bytes_per_sec,omitempty"` // each slow reader: bytes read over the time it read
	SentPerSecAfterCut  float64   `json:"lines_sent_per_sec_after_slow_cut"` // from 1 s after the last slow reader's cut to the end of sending; 0 = no such window
	SentAfterCutSeconds int       `json:"sent_after_slow_cut_seconds"`       // how many seconds that window has

	// Latency probes (--after): a lone line every 20 ms between two fresh
	// clients, on the idle server before the load and --after the clients
	// left.
	ProbeBefore *Probe `json:"probe_before,omitempty"`
	ProbeAfter  *Probe `json:"probe_after,omitempty"`

	InWindowDeliveries    uint64  `json:"in_window_deliveries"`
	AskedDeliveriesPerSec float64 `json:"asked_deliveries_per_sec"`
	DeliveredPerSec       float64 `json:"delivered_per_sec"`
	DeliveredMBPerSec     float64 `json:"delivered_mb_per_sec"`
	LatencyMs             Latency `json:"latency_ms"`
	// Timeline is deliveries received in each second of sending, warm-up
	// included (of the first run, when runs are merged into a median).
	Timeline []float64 `json:"timeline_per_sec"`

	ServerCPUSeconds           float64 `json:"server_cpu_seconds"`
	ServerCPUMicrosPerDelivery float64 `json:"server_cpu_us_per_delivery"`
	ServerPeakRSSBytes         uint64  `json:"server_peak_rss_bytes"`
	ServerRSSIdleBytes         uint64  `json:"server_rss_before_clients_bytes"`
	ServerRSSConnectedBytes    uint64  `json:"server_rss_connected_bytes"`
	ServerBytesPerConn         float64 `json:"server_bytes_per_conn"`
	ServerRSSAfterBytes        uint64  `json:"server_rss_after_bytes,omitempty"` // RSS --after the clients left
	GeneratorCPUSeconds        float64 `json:"generator_cpu_seconds"`
	Workers                    int     `json:"workers,omitempty"` // generator child processes; 0 = the harness itself

	// With several nodes: peak RSS over all nodes per client, each node's
	// figures, and the NATS servers the harness started (summed).
	ServerPeakBytesPerConn float64       `json:"server_peak_rss_per_conn_bytes,omitempty"`
	Nodes                  []ProcFigures `json:"nodes,omitempty"`
	NATSPeakRSSBytes       uint64        `json:"nats_peak_rss_bytes,omitempty"`
	NATSCPUSeconds         float64       `json:"nats_cpu_seconds,omitempty"`
}

// ProcFigures are one server process's figures: its peak RSS and the CPU
// it used from the first line sent to the end of the drain.
type ProcFigures struct {
	PeakRSSBytes uint64  `json:"peak_rss_bytes"`
	CPUSeconds   float64 `json:"cpu_seconds"`
}

// Probe is one latency probe's account: lines one fresh client sent a
// receiving one, one at a time, and their one-way latency.
type Probe struct {
	Lines    int     `json:"lines"`    // sent
	Received int     `json:"received"` // of them, received
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	Error    string  `json:"error,omitempty"` // why the probe could not run or finish
}

// metric is one row of the human table.
type metric struct {
	name   string
	value  func(*Result) float64
	format string
	better int // +1 higher is better, -1 lower is better, 0 neither
}

// onlyWhen names the rows that apply only to some results: a row is
// shown when it applies to one of them at least, with "-" for the others,
// instead of zeros that were never measured.
var onlyWhen = map[string]func(*Result) bool{
	"deliveries/s":                sends,
	"asked deliveries/s":          paced,
	"delivered MB/s":              sends,
	"lines sent":                  sends,
	"lines sent/s":                sends,
	"sent MB/s":                   sends,
	"lines sent/s after slow cut": hasSlowReaders,
	"senders cut":                 sends,
	"senders closed write":        closesWrite,
	"stalled cut":                 hasStalled,
	"slow readers cut":            hasSlowReaders,
	"last slow cut after s":       hasSlowReaders,
	"slow read MB/s (fastest)":    hasSlowReaders,
	"slow deliveries received":    hasSlowReaders,
	"slow lost":                   hasSlowReaders,
	"deliveries expected":         sends,
	"deliveries received":         sends,
	"lost":                        sends,
	"lost in gaps (dropped)":      sends,
	"duplicates/reordered":        sends,
	"latency p50 ms":              hasLatency,
	"latency p90 ms":              hasLatency,
	"latency p99 ms":              hasLatency,
	"latency p99.9 ms":            hasLatency,
	"latency max ms":              hasLatency,
	"server CPU s":                serverKnown,
	"server CPU µs/delivery":      func(r *Result) bool { return serverKnown(r) && r.Received > 0 },
	"server peak RSS MiB":         serverKnown,
	"server bytes/conn":           serverKnown,
	"server peak RSS/conn B":      serverKnown,
	"NATS peak RSS MiB":           hasNATS,
	"NATS CPU s":                  hasNATS,
	"server RSS before MiB":       serverKnown,
	"server RSS after MiB":        func(r *Result) bool { return serverKnown(r) && r.Workload.After > 0 },
	"probe before p50 ms":         hasProbes,
	"probe before max ms":         hasProbes,
	"probe after p50 ms":          hasProbes,
	"probe after max ms":          hasProbes,
	"probe after lines received":  hasProbes,
}

// notes say what the rows whose names cannot measure; each is printed
// under the table when its row is.
var notes = map[string]string{
	"deliveries/s": "one line reaching one client; counts the lines sent in the measured window",
	"server bytes/conn": "the server's RSS with every client connected, before the first line, less its RSS before " +
		"any connected, per client: what an idle connection costs (what load adds is in the peak RSS)",
	"server peak RSS/conn B": "the server's peak RSS (all nodes) over the clients",
	"lost in gaps (dropped)": "of the lost lines, those skipped while later lines of their sender arrived: dropped, not late",
	"server CPU s":           "from the first line sent to the end of the drain, warm-up included",
}

func sends(r *Result) bool          { return r.Workload.Senders > 0 }
func paced(r *Result) bool          { return r.Workload.Senders > 0 && r.Workload.Rate > 0 }
func hasStalled(r *Result) bool     { return r.Workload.Stalled > 0 }
func hasLatency(r *Result) bool     { return r.InWindowDeliveries > 0 }
func serverKnown(r *Result) bool    { return r.ServerPeakRSSBytes > 0 }
func hasNATS(r *Result) bool        { return r.NATSPeakRSSBytes > 0 }
func hasSlowReaders(r *Result) bool { return r.Workload.SlowReaders > 0 }
func hasProbes(r *Result) bool      { return r.ProbeBefore != nil || r.ProbeAfter != nil }
func closesWrite(r *Result) bool    { return r.Workload.CloseWrite }

// probeValue reads one figure of a probe; -1 when the probe did not run.
func probeValue(p *Probe, get func(*Probe) float64) float64 {
	if p == nil {
		return -1
	}
	return get(p)
}

var metrics = []metric{
	{"deliveries/s", func(r *Result) float64 { return r.DeliveredPerSec }, "%.0f", +1},
	{"asked deliveries/s", func(r *Result) float64 { return r.AskedDeliveriesPerSec }, "%.0f", 0},
	{"delivered MB/s", func(r *Result) float64 { return r.DeliveredMBPerSec }, "%.1f", +1},
	{"lines sent", func(r *Result) float64 { return float64(r.LinesSent) }, "%.0f", 0},
	{"lines sent/s", func(r *Result) float64 { return r.SentPerSec }, "%.0f", +1},
	{"sent MB/s", func(r *Result) float64 { return r.SentMBPerSec }, "%.1f", +1},
	{"lines sent/s after slow cut", func(r *Result) float64 { return r.SentPerSecAfterCut }, "%.0f", +1},
	{"readers cut", func(r *Result) float64 { return float64(r.ReadersCut) }, "%.0f", -1},
	{"senders cut", func(r *Result) float64 { return float64(r.SendersCut) }, "%.0f", -1},
	{"senders closed write", func(r *Result) float64 { return float64(r.SendersClosed) }, "%.0f", 0},
	{"stalled cut", func(r *Result) float64 { return float64(r.StalledCut) }, "%.0f", 0},
	{"slow readers cut", func(r *Result) float64 { return float64(r.SlowReadersCut) }, "%.0f", 0},
	{"last slow cut after s", func(r *Result) float64 { return r.SlowCutLastSeconds }, "%.2f", 0},
	{"slow read MB/s (fastest)", func(r *Result) float64 { return slices.Max(append([]float64{0}, r.SlowReadRates...)) / 1e6 }, "%.2f", 0},
	{"slow deliveries received", func(r *Result) float64 { return float64(r.SlowReceived) }, "%.0f", 0},
	{"slow lost", func(r *Result) float64 { return float64(r.SlowLost) }, "%.0f", 0},
	{"deliveries expected", func(r *Result) float64 { return float64(r.DeliveriesExpected) }, "%.0f", 0},
	{"deliveries received", func(r *Result) float64 { return float64(r.Received) }, "%.0f", 0},
	{"lost", func(r *Result) float64 { return float64(r.Lost) }, "%.0f", -1},
	{"lost in gaps (dropped)", func(r *Result) float64 { return float64(r.LostGaps) }, "%.0f", -1},
	{"duplicates/reordered", func(r *Result) float64 { return float64(r.Duplicates) }, "%.0f", -1},
	{"latency p50 ms", func(r *Result) float64 { return r.LatencyMs.P50 }, "%.3f", -1},
	{"latency p90 ms", func(r *Result) float64 { return r.LatencyMs.P90 }, "%.3f", -1},
	{"latency p99 ms", func(r *Result) float64 { return r.LatencyMs.P99 }, "%.3f", -1},
	{"latency p99.9 ms", func(r *Result) float64 { return r.LatencyMs.P999 }, "%.3f", -1},
	{"latency max ms", func(r *Result) float64 { return r.LatencyMs.Max }, "%.3f", -1},
	{"connect s", func(r *Result) float64 { return r.ConnectSeconds }, "%.2f", -1},
	{"server CPU s", func(r *Result) float64 { return r.ServerCPUSeconds }, "%.2f", -1},
	{"server CPU µs/delivery", func(r *Result) float64 { return r.ServerCPUMicrosPerDelivery }, "%.3f", -1},
	{"server peak RSS MiB", func(r *Result) float64 { return float64(r.ServerPeakRSSBytes) / (1 << 20) }, "%.1f", -1},
	{"server bytes/conn", func(r *Result) float64 { return r.ServerBytesPerConn }, "%.0f", -1},
	{"server peak RSS/conn B", func(r *Result) float64 { return r.ServerPeakBytesPerConn }, "%.0f", -1},
	{"NATS peak RSS MiB", func(r *Result) float64 { return float64(r.NATSPeakRSSBytes) / (1 << 20) }, "%.1f", -1},
	{"NATS CPU s", func(r *Result) float64 { return r.NATSCPUSeconds }, "%.2f", -1},
	{"server RSS before MiB", func(r *Result) float64 { return float64(r.ServerRSSIdleBytes) / (1 << 20) }, "%.1f", 0},
	{"server RSS after MiB", func(r *Result) float64 { return float64(r.ServerRSSAfterBytes) / (1 << 20) }, "%.1f", -1},
	{"probe before p50 ms", func(r *Result) float64 { return probeValue(r.ProbeBefore, func(p *Probe) float64 { return p.P50Ms }) }, "%.3f", -1},
	{"probe before max ms", func(r *Result) float64 { return probeValue(r.ProbeBefore, func(p *Probe) float64 { return p.MaxMs }) }, "%.3f", -1},
	{"probe after p50 ms", func(r *Result) float64 { return probeValue(r.ProbeAfter, func(p *Probe) float64 { return p.P50Ms }) }, "%.3f", -1},
	{"probe after max ms", func(r *Result) float64 { return probeValue(r.ProbeAfter, func(p *Probe) float64 { return p.MaxMs }) }, "%.3f", -1},
	{"probe after lines received", func(r *Result) float64 {
		return probeValue(r.ProbeAfter, func(p *Probe) float64 { return float64(p.Received) })
	}, "%.0f", 0},
	{"generator CPU s", func(r *Result) float64 { return r.GeneratorCPUSeconds }, "%.2f", 0},
	{"generator processes", func(r *Result) float64 { return float64(max(r.Workers, 1)) }, "%.0f", 0},
}

// WriteTable prints results side by side; with exactly two, a ratio column
// (first / second) follows. Rows that apply to no result are left out, and
// notes under the table explain the rows that need it.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "metric\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", r.Target)
	}
	if len(results) == 2 {
		fmt.Fprint(tw, "ratio\t")
	}
	fmt.Fprintln(tw)
	var shown []string
	for _, m := range metrics {
		applies := onlyWhen[m.name]
		if applies == nil {
			applies = func(*Result) bool { return true }
		}
		if !slices.ContainsFunc(results, applies) {
			continue
		}
		if notes[m.name] != "" {
			shown = append(shown, m.name)
		}
		fmt.Fprintf(tw, "%s\t", m.name)
		for _, r := range results {
			if applies(r) {
				fmt.Fprintf(tw, m.format+"\t", m.value(r))
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		if len(results) == 2 {
			a, b := m.value(results[0]), m.value(results[1])
			if a != 0 && b != 0 && m.better != 0 && applies(results[0]) && applies(results[1]) { // a ratio with a zero says nothing
				fmt.Fprintf(tw, "%.2fx\t", a/b)
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(shown) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, name := range shown {
			fmt.Fprintf(w, "  %s: %s\n", name, notes[name])
		}
	}
	return nil
}
