package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// collectAll runs one Collect and returns every value by metric name and
// labels ("name" or "name{value}").
func collectAll(t *testing.T, c collector) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 2*len(table)+8)
	c.Collect(ch)
	close(ch)
	got := map[string]float64{}
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		name := m.Desc().String()
		name = name[strings.Index(name, `"`)+1:]
		name = name[:strings.Index(name, `"`)]
		for _, l := range pb.GetLabel() {
			name += "{" + l.GetValue() + "}"
		}
		v := pb.GetGauge().GetValue() + pb.GetCounter().GetValue()
		if _, dup := got[name]; dup {
			t.Errorf("%s collected twice", name)
		}
		got[name] = v
	}
	return got
}

// TestTableCollectsEachRow: every row of the table is described once and
// collected with its value; the cluster rows only on a clustered node.
func TestTableCollectsEachRow(t *testing.T) {
	descs := make(chan *prometheus.Desc, len(table))
	collector(nil).Describe(descs)
	if len(descs) != len(table) {
		t.Fatalf("described %d, table has %d", len(descs), len(table))
	}
	for _, tc := range []struct {
		name    string
		cluster *ClusterSnapshot
	}{
		{name: "standalone"},
		{name: "clustered", cluster: &ClusterSnapshot{Connected: true, Published: 7, Origins: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := collectAll(t, collector(func() Snapshot {
				return Snapshot{Open: 3, OpenByProto: map[string]int64{"tcp": 2, "ws": 1}, Accepted: 5, Closed: map[string]uint64{"client_quit": 2, "idle": 1},
					ShardConns: []int{1, 4}, Backpressure: true, Window: 0.25, Cluster: tc.cluster}
			}))
			want := map[string]float64{
				"fanout_connections_open":                      3,
				"fanout_connections_open_by_proto{tcp}":        2,
				"fanout_connections_open_by_proto{ws}":         1,
				"fanout_connections_accepted_total":            5,
				"fanout_connections_closed_total{client_quit}": 2,
				"fanout_connections_closed_total{idle}":        1,
				"fanout_shard_connections{1}":                  4,
				"fanout_backpressure":                          1,
				"fanout_coalesce_window_seconds":               0.25,
				"fanout_lines_in_total":                        0,
			}
			if tc.cluster != nil {
				want["fanout_cluster_connected"], want["fanout_cluster_published_lines_total"], want["fanout_cluster_origins"] = 1, 7, 2
			}
			for name, v := range want {
				if g, ok := got[name]; !ok || g != v {
					t.Errorf("%s = %v (collected: %v), want %v", name, g, ok, v)
				}
			}
			for name := range got {
				if strings.HasPrefix(name, "fanout_cluster_") && tc.cluster == nil {
					t.Errorf("%s collected on a standalone node", name)
				}
			}
		})
	}
}
