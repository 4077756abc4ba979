package bench

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWriteReport(t *testing.T) {
	results := []*Result{
		{Target: "fanout", Timeline: []float64{100, 200, 300}, LatencyMs: Latency{P50: 1, P90: 2, P99: 3, P999: 4, Max: 5}},
		{Target: "baseline <naive>", Timeline: []float64{10, 20}, LatencyMs: Latency{P50: 10, P90: 20, P99: 30, P999: 40, Max: 50}},
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, Scenario{Name: "room", Note: "a note"}, results, "./assets/"); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"<html", "Deliveries per second", "End-to-end latency", // both charts
		`"fanout"`, "300", "p99.9", // series and data are in the page
		"./assets/echarts.min.js", // the chosen asset host
		"baseline &lt;naive&gt;",  // the table, escaped
		"scenario room",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestReportAssetsDirWithoutSlash: a directory given without its trailing
// slash still yields "<dir>/echarts.min.js".
func TestReportAssetsDirWithoutSlash(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReport(&buf, Scenario{Name: "room"}, []*Result{{Target: "fanout"}}, "/srv/assets"); err != nil {
		t.Fatal(err)
	}
	if page := buf.String(); !strings.Contains(page, "/srv/assets/echarts.min.js") || strings.Contains(page, "/srv/assetsecharts") {
		t.Fatal("the asset path lost its separator")
	}
}

// TestReportIsSelfContained: by default the page carries ECharts itself and
// loads nothing from anywhere; the rate chart leaves the warm-up out.
func TestReportIsSelfContained(t *testing.T) {
	r := &Result{Target: "fanout", Workload: Workload{Warmup: 2 * time.Second},
		Timeline: []float64{111111, 222222, 333333, 444444}}
	var buf bytes.Buffer
	if err := WriteReport(&buf, Scenario{Name: "room"}, []*Result{r}, ""); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, "<script src=") || strings.Contains(page, "<link") {
		t.Error("the page loads something from elsewhere")
	}
	if !strings.Contains(page, "Apache Software Foundation") || len(page) < len(echartsJS) {
		t.Error("ECharts is not inlined")
	}
	if strings.Contains(page, "111111") || strings.Contains(page, "222222") || !strings.Contains(page, "333333") {
		t.Error("the rate chart does not cover exactly the measured window")
	}
}

// TestReportChartsLinesSent: a run with a sent timeline gets a chart of it,
// which names when its slow reader was cut; one without gets none.
func TestReportChartsLinesSent(t *testing.T) {
	r := &Result{Target: "fanout", Workload: Workload{SlowReaders: 1}, Timeline: []float64{1, 2},
		SentTimeline: []float64{765432, 876543}, SlowCutAfterSeconds: []float64{10.4}, SlowCutLastSeconds: 10.4}
	var buf bytes.Buffer
	if err := WriteReport(&buf, Scenario{Name: "slowreader"}, []*Result{r}, "./assets/"); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"Lines sent per second", "876543", "last slow reader cut at 10.4 s", "slow readers cut"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	buf.Reset()
	if err := WriteReport(&buf, Scenario{Name: "room"}, []*Result{{Target: "fanout"}}, "./assets/"); err != nil {
		t.Fatal(err)
	}
	if page := buf.String(); strings.Contains(page, "Lines sent per second") || strings.Contains(page, "slow readers cut") {
		t.Error("a run with no lines sent and no slow reader got their chart or rows")
	}
}

// TestTableLeavesOutWhatDoesNotApply: a row no result measured is left
// out, a cell its result did not measure says "-", and the rows that need
// it are explained under the table.
func TestTableLeavesOutWhatDoesNotApply(t *testing.T) {
	idle := &Result{Target: "fanout", Workload: Workload{Clients: 100}, ServerPeakRSSBytes: 20 << 20, ServerBytesPerConn: 4096}
	remote := &Result{Target: "127.0.0.1:1", Workload: Workload{Clients: 100}}
	var buf bytes.Buffer
	if err := WriteTable(&buf, []*Result{idle, remote}); err != nil {
		t.Fatal(err)
	}
	table := buf.String()
	for _, gone := range []string{"deliveries/s", "lines sent", "latency p99 ms", "stalled cut", "NATS", "server RSS after", "lost"} {
		if strings.Contains(table, gone) {
			t.Errorf("an idle run's table has %q:\n%s", gone, table)
		}
	}
	row := func(name string) []string {
		for _, line := range strings.Split(table, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), name+"  ") {
				return strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), name))
			}
		}
		t.Fatalf("no row %q:\n%s", name, table)
		return nil
	}
	if got := row("server bytes/conn"); !slices.Equal(got, []string{"4096", "-", "-"}) {
		t.Errorf("server bytes/conn row %q, want 4096 for the started server and - for the one at --addr", got)
	}
	if got := row("readers cut"); !slices.Equal(got, []string{"0", "0", "-"}) {
		t.Errorf("readers cut row %q", got)
	}
	if !strings.Contains(table, "notes:\n") || !strings.Contains(table, "server bytes/conn: the server's RSS with every client connected") {
		t.Errorf("server bytes/conn is not explained:\n%s", table)
	}
}
