package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metric is one row of the table: its descriptor, its kind, and how to
// read its values from a Snapshot. Describe and Collect both walk table,
// so a new metric is one row here plus its Snapshot field.
type metric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	// read calls emit once per value of the metric in s (once per label
	// set for a labelled one; not at all when it does not apply, as the
	// cluster metrics on a standalone node).
	read func(s *Snapshot, emit func(v float64, labels ...string))
}

// table lists every fanout_* metric the collector exposes (the two
// histograms, observed rather than read, are in New).
var table = []metric{
	gauge("fanout_connections_open", "Connections open now.", func(s *Snapshot) int64 { return s.Open }),
	gaugeBy("fanout_connections_open_by_proto", "Connections open now, by protocol (tcp: lines, ws: WebSocket).", "proto", func(s *Snapshot) map[string]int64 { return s.OpenByProto }),
	counter("fanout_connections_accepted_total", "Connections accepted.", func(s *Snapshot) uint64 { return s.Accepted }),
	counterBy("fanout_connections_closed_total", "Connections closed, by reason.", "reason", func(s *Snapshot) map[string]uint64 { return s.Closed }),
	counter("fanout_lines_in_total", "Lines received from clients and relayed.", func(s *Snapshot) uint64 { return s.LinesIn }),
	counter("fanout_lines_dropped_total", "Lines dropped by flood control.", func(s *Snapshot) uint64 { return s.LinesDropped }),
	counter("fanout_deliveries_total", "Lines handed to recipients' sockets.", func(s *Snapshot) uint64 { return s.Deliveries }),
	counter("fanout_bytes_in_total", "Bytes read from clients.", func(s *Snapshot) uint64 { return s.BytesIn }),
	counter("fanout_bytes_out_total", "Bytes handed to clients' sockets.", func(s *Snapshot) uint64 { return s.BytesOut }),
	counter("fanout_batches_total", "Batches sealed and handed to the event loops.", func(s *Snapshot) uint64 { return s.Batches }),
	counter("fanout_rounds_total", "Delivery rounds run by the event loops.", func(s *Snapshot) uint64 { return s.Rounds }),
	counter("fanout_writes_total", "Write calls to client sockets.", func(s *Snapshot) uint64 { return s.Writes }),
	gaugeByIndex("fanout_shard_connections", "Connections per registry shard.", "shard", func(s *Snapshot) []int { return s.ShardConns }),
	gauge("fanout_log_bytes", "Bytes of sealed batches the delivery logs hold now, each batch once.", func(s *Snapshot) int64 { return s.LogBytes }),
	gauge("fanout_behind_bytes", "How far behind the slowest client is, in bytes.", func(s *Snapshot) int64 { return s.BehindBytes }),
	gauge("fanout_sockets_full", "Client sockets that were full at the last write, waiting for room.", func(s *Snapshot) int64 { return s.SocketsFull }),
	flag("fanout_backpressure", "1 while senders are held back for readers that are behind.", func(s *Snapshot) bool { return s.Backpressure }),
	counter("fanout_backpressure_total", "Times senders began to be held back.", func(s *Snapshot) uint64 { return s.Congestions }),
	gauge("fanout_senders_held", "Senders whose sockets the server is not reading now, while readers catch up.", func(s *Snapshot) int64 { return s.SendersHeld }),
	gauge("fanout_readers_holding", "Readers far enough behind, while reading, to hold senders back now.", func(s *Snapshot) int64 { return s.ReadersHolding }),
	counter("fanout_lost_tasks_total", "Tasks an event loop refused because it was shutting down.", func(s *Snapshot) uint64 { return s.LostTasks }),
	gaugeFloat("fanout_coalesce_window_seconds", "The widest coalescing window an event loop chose for its last delivery round.", func(s *Snapshot) float64 { return s.Window }),
	gaugeFloat("fanout_round_cost_seconds", "The longest time an event loop's last delivery round took to write.", func(s *Snapshot) float64 { return s.RoundCost }),
	gaugeFloat("fanout_coalesce_duty", "The share of an event loop's time delivery rounds may take, as the pacer chose it from how busy the CPUs are (0: coalescing off).", func(s *Snapshot) float64 { return s.Duty }),
	counter("fanout_accept_errors_total", "Accept calls that failed and were retried after a pause (descriptors or memory used up, a queued connection that died).", func(s *Snapshot) uint64 { return s.AcceptErrors }),
	counterBy("fanout_log_lines_suppressed_total", "Log lines a peer can cause (refusals, bad PROXY headers, closes for cause, wrong tokens) held back by the log rate limit, by kind.", "kind", func(s *Snapshot) map[string]uint64 { return s.LogSuppressed }),

	clusterFlag("fanout_cluster_connected", "1 while the NATS connection is up.", func(c *ClusterSnapshot) bool { return c.Connected }),
	clusterCounter("fanout_cluster_published_lines_total", "Lines published to other nodes.", func(c *ClusterSnapshot) uint64 { return c.Published }),
	clusterCounter("fanout_cluster_publish_dropped_lines_total", "Lines not published (queue full or NATS down past its buffer).", func(c *ClusterSnapshot) uint64 { return c.PublishDropped }),
	clusterCounter("fanout_cluster_received_lines_total", "Lines received from other nodes.", func(c *ClusterSnapshot) uint64 { return c.Received }),
	clusterCounter("fanout_cluster_missed_lines_total", "Lines other nodes published that never arrived here (seen as a gap in their sequence: an outage, a NATS drop).", func(c *ClusterSnapshot) uint64 { return c.Missed }),
	clusterCounter("fanout_cluster_duplicate_lines_total", "Lines from other nodes that arrived again, or behind a later message of the same node, and were dropped.", func(c *ClusterSnapshot) uint64 { return c.Duplicates }),
	clusterCounter("fanout_cluster_receive_dropped_messages_total", "Messages NATS dropped because this node fell behind.", func(c *ClusterSnapshot) uint64 { return c.ReceiveDropped }),
	clusterCounter("fanout_cluster_inject_dropped_lines_total", "Lines received from other nodes but refused because local delivery was too far behind.", func(c *ClusterSnapshot) uint64 { return c.InjectDropped }),
	clusterCounter("fanout_cluster_malformed_messages_total", "Messages on the subject dropped whole because a header or a frame failed the checks.", func(c *ClusterSnapshot) uint64 { return c.Malformed }),
	clusterCounter("fanout_cluster_outages_total", "NATS disconnections.", func(c *ClusterSnapshot) uint64 { return c.Outages }),
	clusterCounter("fanout_cluster_unauthenticated_messages_total", "With a cluster key: messages on the subject without a valid MAC, dropped.", func(c *ClusterSnapshot) uint64 { return c.Unauthenticated }),
	clusterGauge("fanout_cluster_origins", "Origin nodes whose sequence this node tracks (at most 1024).", func(c *ClusterSnapshot) int { return c.Origins }),
}

// The row builders below cover the shapes the table uses; a metric of
// another shape can write its metric literal, read function and all, in
// the table itself.

func counter(name, help string, get func(*Snapshot) uint64) metric {
	return metric{desc: prometheus.NewDesc(name, help, nil, nil), kind: prometheus.CounterValue,
		read: func(s *Snapshot, emit func(float64, ...string)) { emit(float64(get(s))) }}
}

func gauge(name, help string, get func(*Snapshot) int64) metric {
	return metric{desc: prometheus.NewDesc(name, help, nil, nil), kind: prometheus.GaugeValue,
		read: func(s *Snapshot, emit func(float64, ...string)) { emit(float64(get(s))) }}
}

// gaugeFloat is a gauge already held as a float (seconds, or a share).
func gaugeFloat(name, help string, get func(*Snapshot) float64) metric {
	return metric{desc: prometheus.NewDesc(name, help, nil, nil), kind: prometheus.GaugeValue,
		read: func(s *Snapshot, emit func(float64, ...string)) { emit(get(s)) }}
}

// flag is a gauge that is 1 while get holds, 0 otherwise.
func flag(name, help string, get func(*Snapshot) bool) metric {
	return metric{desc: prometheus.NewDesc(name, help, nil, nil), kind: prometheus.GaugeValue,
		read: func(s *Snapshot, emit func(float64, ...string)) { emit(oneIf(get(s))) }}
}

// counterBy is a counter with one label, a value per key of get's map.
func counterBy(name, help, label string, get func(*Snapshot) map[string]uint64) metric {
	return metric{desc: prometheus.NewDesc(name, help, []string{label}, nil), kind: prometheus.CounterValue,
		read: func(s *Snapshot, emit func(float64, ...string)) {
			for k, n := range get(s) {
				emit(float64(n), k)
			}
		}}
}

// gaugeBy is a gauge with one label, a value per key of get's map.
func gaugeBy(name, help, label string, get func(*Snapshot) map[string]int64) metric {
	return metric{desc: prometheus.NewDesc(name, help, []string{label}, nil), kind: prometheus.GaugeValue,
		read: func(s *Snapshot, emit func(float64, ...string)) {
			for k, n := range get(s) {
				emit(float64(n), k)
			}
		}}
}

// gaugeByIndex is a gauge with one label, the index of each value of
// get's slice.
func gaugeByIndex(name, help, label string, get func(*Snapshot) []int) metric {
	return metric{desc: prometheus.NewDesc(name, help, []string{label}, nil), kind: prometheus.GaugeValue,
		read: func(s *Snapshot, emit func(float64, ...string)) {
			for i, n := range get(s) {
				emit(float64(n), strconv.Itoa(i))
			}
		}}
}

// clusterGauge is a gauge of the NATS bridge, absent on a standalone node.
func clusterGauge(name, help string, get func(*ClusterSnapshot) int) metric {
	return metric{desc: prometheus.NewDesc(name, help, nil, nil), kind: prometheus.GaugeValue,
		read: func(s *Snapshot, emit func(float64, ...string)) {
			if s.Cluster != nil {
				emit(float64(get(s.Cluster)))
			}
		}}
}

// clusterCounter is a counter of the NATS bridge, absent on a standalone node.
func clusterCounter(name, help string, get func(*ClusterSnapshot) uint64) metric {
	return metric{desc: prometheus.NewDesc(name, help, nil, nil), kind: prometheus.CounterValue,
		read: func(s *Snapshot, emit func(float64, ...string)) {
			if s.Cluster != nil {
				emit(float64(get(s.Cluster)))
			}
		}}
}

// clusterFlag is a 0/1 gauge of the NATS bridge, absent on a standalone node.
func clusterFlag(name, help string, get func(*ClusterSnapshot) bool) metric {
	return metric{desc: prometheus.NewDesc(name, help, nil, nil), kind: prometheus.GaugeValue,
		read: func(s *Snapshot, emit func(float64, ...string)) {
			if s.Cluster != nil {
				emit(oneIf(get(s.Cluster)))
			}
		}}
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collector reads a Snapshot on every scrape and exposes table's metrics.
type collector Source

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range table {
		ch <- m.desc
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	for _, m := range table {
		m.read(&s, func(v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, labels...)
		})
	}
}
