package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestREADMEListsEveryMetric: the README's metrics table names exactly the
// fanout_* metrics the server exposes (cluster ones included), so the two
// cannot drift apart.
func TestREADMEListsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `fanout_") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		for _, m := range regexp.MustCompile("`(fanout_[a-z_]+)").FindAllStringSubmatch(cell, -1) {
			documented = append(documented, m[1])
		}
	}
	m := New(func() Snapshot {
		return Snapshot{Closed: map[string]uint64{"client_quit": 0}, ShardConns: []int{0}, Cluster: &ClusterSnapshot{}}
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
	slices.Sort(documented)
	slices.Sort(exposed)
	for _, name := range exposed {
		if !slices.Contains(documented, name) {
			t.Errorf("%s is exposed but not in README's metrics table", name)
		}
	}
	for _, name := range documented {
		if !slices.Contains(exposed, name) {
			t.Errorf("README lists %s, which the server does not expose", name)
		}
	}
}
