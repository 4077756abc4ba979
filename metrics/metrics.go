// Package metrics exposes fanout's Prometheus metrics, health checks and
// (optionally) pprof on one HTTP listener, bounded (http.go): at most
// MaxConns connections, timeouts on headers, requests, answers and idle
// keep-alives, 16 KiB of headers.
//
// It owns the metric names: every fanout_* metric is one row of table
// (table.go), {descriptor, kind, how to read it from a Snapshot}, which
// Describe and Collect both walk; the server owns the Snapshot's values.
// A new metric is a Snapshot field, a row, and a README line (the README
// test checks the names).
//
// Concurrency rule: nothing here sits on the per-line or per-recipient
// path. Counters live where they are counted (per event loop, per hub, as
// atomics owned by the server and shard packages) and are read through a
// Source only when /metrics is scraped. The two histograms are observed
// once per sealed batch; prometheus histograms are safe for concurrent use.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Snapshot is the server's state at one scrape.
type Snapshot struct {
	Open           int64             // connections open now
	OpenByProto    map[string]int64  // connections open now, by protocol: "tcp", "ws"
	Accepted       uint64            // connections accepted since start
	Closed         map[string]uint64 // connections closed, by reason
	LinesIn        uint64            // lines relayed
	LinesDropped   uint64            // lines dropped by flood control (--flood=drop)
	Deliveries     uint64            // lines handed to recipients' sockets
	BytesIn        uint64            // bytes read from clients
	BytesOut       uint64            // bytes handed to clients' sockets
	Batches        uint64            // batches sealed
	Rounds         uint64            // delivery rounds run
	Writes         uint64            // writes to client sockets
	ShardConns     []int             // connections per registry shard
	LogBytes       int64             // bytes the delivery logs hold now (each batch once)
	BehindBytes    int64             // how far behind the slowest client is
	SocketsFull    int64             // client sockets waiting for room
	Backpressure   bool              // senders are held back now
	Congestions    uint64            // times senders began to be held back
	SendersHeld    int64             // senders whose sockets the server is not reading now
	ReadersHolding int64             // readers holding senders back now
	LostTasks      uint64            // tasks an event loop refused (it was shutting down)
	Window         float64           // seconds: the widest coalescing window of the last rounds
	RoundCost      float64           // seconds: the longest last round's write time
	Duty           float64           // share of a loop's time delivery rounds may take (0: coalescing off)
	AcceptErrors   uint64            // accept calls that failed and were retried (descriptors used up, …)
	LogSuppressed  map[string]uint64 // rate-limited log lines held back, by kind
	Cluster        *ClusterSnapshot  // nil when the node is not in a cluster
}

// ClusterSnapshot is the NATS bridge's state.
type ClusterSnapshot struct {
	Connected      bool
	Published      uint64 // lines published to other nodes
	PublishDropped uint64 // lines that could not be published
	Received       uint64 // lines received from other nodes
	Missed         uint64 // lines other nodes published that never arrived
	Duplicates     uint64 // lines that arrived twice, dropped the second time
	ReceiveDropped uint64 // messages NATS dropped because this node fell behind
	InjectDropped  uint64 // lines received but refused: local delivery too far behind
	Malformed      uint64 // messages dropped whole: a header or frame failed the checks
	Outages        uint64 // NATS disconnections

	Unauthenticated uint64 // with a cluster key: messages without a valid MAC, dropped
	Origins         int    // origin nodes whose sequence is tracked (at most 1024)
}

// Source returns a Snapshot; it is called on every scrape.
type Source func() Snapshot

// Metrics is the Prometheus registry of one server.
type Metrics struct {
	Registry   *prometheus.Registry
	batchLines prometheus.Histogram
	handoff    prometheus.Histogram
}

// New returns metrics reading src on scrape, with Go runtime and process
// collectors.
func New(src Source) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		batchLines: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fanout_batch_lines",
			Help:    "Lines per sealed batch (one batch costs each recipient one write).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		handoff: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fanout_handoff_seconds",
			Help:    "Time from a batch's first line arriving to the batch being handed to every event loop.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12),
		}),
	}
	m.Registry.MustRegister(m.batchLines, m.handoff, collector(src),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveSeal records one sealed batch. Safe for concurrent use; called
// once per batch on the batch's event loop.
func (m *Metrics) ObserveSeal(lines int, waited time.Duration) {
	m.batchLines.Observe(float64(lines))
	m.handoff.Observe(waited.Seconds())
}
