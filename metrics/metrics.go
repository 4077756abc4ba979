// Package metrics exposes fanout's Prometheus metrics, health checks and
// (optionally) pprof on one HTTP listener, bounded (http.go): at most
// MaxConns connections, timeouts on headers, requests, answers and idle
// keep-alives, 16 KiB of headers.
//
// Concurrency rule: nothing here sits on the per-line or per-recipient
// path. Counters live where they are counted (per event loop, per hub, as
// atomics owned by the server and shard packages) and are read through a
// Source only when /metrics is scraped. The two histograms are observed
// once per sealed batch; prometheus histograms are safe for concurrent use.
package metrics

import (
	"strconv"
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

type collector Source

var (
	descOpen       = prometheus.NewDesc("fanout_connections_open", "Connections open now.", nil, nil)
	descOpenProto  = prometheus.NewDesc("fanout_connections_open_by_proto", "Connections open now, by protocol (tcp: lines, ws: WebSocket).", []string{"proto"}, nil)
	descAccepted   = prometheus.NewDesc("fanout_connections_accepted_total", "Connections accepted.", nil, nil)
	descClosed     = prometheus.NewDesc("fanout_connections_closed_total", "Connections closed, by reason.", []string{"reason"}, nil)
	descLinesIn    = prometheus.NewDesc("fanout_lines_in_total", "Lines received from clients and relayed.", nil, nil)
	descDropped    = prometheus.NewDesc("fanout_lines_dropped_total", "Lines dropped by flood control.", nil, nil)
	descDeliveries = prometheus.NewDesc("fanout_deliveries_total", "Lines handed to recipients' sockets.", nil, nil)
	descBytesIn    = prometheus.NewDesc("fanout_bytes_in_total", "Bytes read from clients.", nil, nil)
	descBytesOut   = prometheus.NewDesc("fanout_bytes_out_total", "Bytes handed to clients' sockets.", nil, nil)
	descBatches    = prometheus.NewDesc("fanout_batches_total", "Batches sealed and handed to the event loops.", nil, nil)
	descRounds     = prometheus.NewDesc("fanout_rounds_total", "Delivery rounds run by the event loops.", nil, nil)
	descWrites     = prometheus.NewDesc("fanout_writes_total", "Write calls to client sockets.", nil, nil)
	descShardConns = prometheus.NewDesc("fanout_shard_connections", "Connections per registry shard.", []string{"shard"}, nil)
	descLogBytes   = prometheus.NewDesc("fanout_log_bytes", "Bytes of sealed batches the delivery logs hold now, each batch once.", nil, nil)
	descBehind     = prometheus.NewDesc("fanout_behind_bytes", "How far behind the slowest client is, in bytes.", nil, nil)
	descFull       = prometheus.NewDesc("fanout_sockets_full", "Client sockets that were full at the last write, waiting for room.", nil, nil)
	descBP         = prometheus.NewDesc("fanout_backpressure", "1 while senders are held back for readers that are behind.", nil, nil)
	descBPTotal    = prometheus.NewDesc("fanout_backpressure_total", "Times senders began to be held back.", nil, nil)
	descHeld       = prometheus.NewDesc("fanout_senders_held", "Senders whose sockets the server is not reading now, while readers catch up.", nil, nil)
	descHolding    = prometheus.NewDesc("fanout_readers_holding", "Readers far enough behind, while reading, to hold senders back now.", nil, nil)
	descWindow     = prometheus.NewDesc("fanout_coalesce_window_seconds", "The widest coalescing window an event loop chose for its last delivery round.", nil, nil)
	descRoundCost  = prometheus.NewDesc("fanout_round_cost_seconds", "The longest time an event loop's last delivery round took to write.", nil, nil)
	descDuty       = prometheus.NewDesc("fanout_coalesce_duty", "The share of an event loop's time delivery rounds may take, as the pacer chose it from how busy the CPUs are (0: coalescing off).", nil, nil)
	descLostTasks  = prometheus.NewDesc("fanout_lost_tasks_total", "Tasks an event loop refused because it was shutting down.", nil, nil)
	descAcceptErrs = prometheus.NewDesc("fanout_accept_errors_total", "Accept calls that failed and were retried after a pause (descriptors or memory used up, a queued connection that died).", nil, nil)
	descSuppressed = prometheus.NewDesc("fanout_log_lines_suppressed_total", "Log lines a peer can cause (refusals, bad PROXY headers, closes for cause, wrong tokens) held back by the log rate limit, by kind.", []string{"kind"}, nil)

	descClusterUp        = prometheus.NewDesc("fanout_cluster_connected", "1 while the NATS connection is up.", nil, nil)
	descClusterPub       = prometheus.NewDesc("fanout_cluster_published_lines_total", "Lines published to other nodes.", nil, nil)
	descClusterPubDrop   = prometheus.NewDesc("fanout_cluster_publish_dropped_lines_total", "Lines not published (queue full or NATS down past its buffer).", nil, nil)
	descClusterRecv      = prometheus.NewDesc("fanout_cluster_received_lines_total", "Lines received from other nodes.", nil, nil)
	descClusterMissed    = prometheus.NewDesc("fanout_cluster_missed_lines_total", "Lines other nodes published that never arrived here (seen as a gap in their sequence: an outage, a NATS drop).", nil, nil)
	descClusterDups      = prometheus.NewDesc("fanout_cluster_duplicate_lines_total", "Lines from other nodes that arrived again, or behind a later message of the same node, and were dropped.", nil, nil)
	descClusterRecvDrop  = prometheus.NewDesc("fanout_cluster_receive_dropped_messages_total", "Messages NATS dropped because this node fell behind.", nil, nil)
	descClusterInjDrop   = prometheus.NewDesc("fanout_cluster_inject_dropped_lines_total", "Lines received from other nodes but refused because local delivery was too far behind.", nil, nil)
	descClusterMalformed = prometheus.NewDesc("fanout_cluster_malformed_messages_total", "Messages on the subject dropped whole because a header or a frame failed the checks.", nil, nil)
	descClusterOutages   = prometheus.NewDesc("fanout_cluster_outages_total", "NATS disconnections.", nil, nil)

	descClusterUnauth  = prometheus.NewDesc("fanout_cluster_unauthenticated_messages_total", "With a cluster key: messages on the subject without a valid MAC, dropped.", nil, nil)
	descClusterOrigins = prometheus.NewDesc("fanout_cluster_origins", "Origin nodes whose sequence this node tracks (at most 1024).", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOpen, descOpenProto, descAccepted, descClosed, descLinesIn, descDropped,
		descDeliveries, descBytesIn, descBytesOut, descBatches, descRounds, descWrites, descShardConns,
		descLogBytes, descBehind, descFull, descBP, descBPTotal, descHeld, descHolding, descLostTasks, descWindow, descRoundCost, descDuty,
		descAcceptErrs, descSuppressed,
		descClusterUp, descClusterPub, descClusterPubDrop, descClusterRecv, descClusterMissed, descClusterDups, descClusterRecvDrop,
		descClusterInjDrop, descClusterMalformed, descClusterOutages, descClusterUnauth, descClusterOrigins} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descOpen, float64(s.Open))
	for proto, n := range s.OpenByProto {
		gauge(descOpenProto, float64(n), proto)
	}
	counter(descAccepted, s.Accepted)
	for reason, n := range s.Closed {
		counter(descClosed, n, reason)
	}
	counter(descLinesIn, s.LinesIn)
	counter(descDropped, s.LinesDropped)
	counter(descDeliveries, s.Deliveries)
	counter(descBytesIn, s.BytesIn)
	counter(descBytesOut, s.BytesOut)
	counter(descBatches, s.Batches)
	counter(descRounds, s.Rounds)
	counter(descWrites, s.Writes)
	for i, n := range s.ShardConns {
		gauge(descShardConns, float64(n), strconv.Itoa(i))
	}
	gauge(descLogBytes, float64(s.LogBytes))
	gauge(descBehind, float64(s.BehindBytes))
	gauge(descFull, float64(s.SocketsFull))
	bp := 0.0
	if s.Backpressure {
		bp = 1
	}
	gauge(descBP, bp)
	counter(descBPTotal, s.Congestions)
	gauge(descHeld, float64(s.SendersHeld))
	gauge(descHolding, float64(s.ReadersHolding))
	counter(descLostTasks, s.LostTasks)
	gauge(descWindow, s.Window)
	gauge(descRoundCost, s.RoundCost)
	gauge(descDuty, s.Duty)
	counter(descAcceptErrs, s.AcceptErrors)
	for kind, n := range s.LogSuppressed {
		counter(descSuppressed, n, kind)
	}
	if c := s.Cluster; c != nil {
		up := 0.0
		if c.Connected {
			up = 1
		}
		gauge(descClusterUp, up)
		counter(descClusterPub, c.Published)
		counter(descClusterPubDrop, c.PublishDropped)
		counter(descClusterRecv, c.Received)
		counter(descClusterMissed, c.Missed)
		counter(descClusterDups, c.Duplicates)
		counter(descClusterRecvDrop, c.ReceiveDropped)
		counter(descClusterInjDrop, c.InjectDropped)
		counter(descClusterMalformed, c.Malformed)
		counter(descClusterOutages, c.Outages)
		counter(descClusterUnauth, c.Unauthenticated)
		gauge(descClusterOrigins, float64(c.Origins))
	}
}
