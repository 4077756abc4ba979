package metrics

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/testutil"
)

// TestREADMEListsEveryMetric: the README's metrics table names exactly the
// fanout_* metrics the server exposes (cluster ones included), so the two
// cannot drift apart.
func TestREADMEListsEveryMetric(t *testing.T) {
	documented := testutil.READMETable(t, "../README.md", "| `fanout_", regexp.MustCompile("`(fanout_[a-z_]+)"))
	m := New(func() Snapshot {
		return Snapshot{Closed: map[string]uint64{"client_quit": 0}, OpenByProto: map[string]int64{"ws": 0}, ShardConns: []int{0}, Cluster: &ClusterSnapshot{},
			LogSuppressed: map[string]uint64{"refused": 0}}
	})
	m.ObserveSeal(1, time.Millisecond)
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var exposed []string
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "fanout_") {
			exposed = append(exposed, f.GetName())
		}
	}
	testutil.SameNames(t, "metrics", documented, exposed)
}
