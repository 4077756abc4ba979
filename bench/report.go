package bench

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/components"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// WriteReport writes one HTML page with the results: the delivered rate
// over time and the latency percentiles, one series per target, and the
// comparison table. Every figure is in the file; the charts are drawn by
// ECharts, which the page loads from assetsHost (go-echarts' public asset
// host when empty; a relative path such as "./" to a folder holding
// echarts.min.js lets the page be viewed offline).
func WriteReport(w io.Writer, sc Scenario, results []*Result, assetsHost string) error {
	page := components.NewPage()
	page.SetPageTitle("fanout bench: " + sc.Name)
	// go-echarts joins host and file name as they are: a directory needs
	// its trailing slash, or "/dir" becomes "/direcharts.min.js".
	if assetsHost != "" && !strings.HasSuffix(assetsHost, "/") {
		assetsHost += "/"
	}
	init := opts.Initialization{AssetsHost: assetsHost}
	if assetsHost != "" {
		page.SetAssetsHost(assetsHost)
	}
	rate, lat := rateChart(sc, results), latencyChart(results)
	// Each chart validates its own assets when added, so the host is set on
	// the charts, not only on the page.
	rate.SetGlobalOptions(charts.WithInitializationOpts(init))
	lat.SetGlobalOptions(charts.WithInitializationOpts(init))
	page.AddCharts(rate, lat)

	var table bytes.Buffer
	if err := WriteTable(&table, results); err != nil {
		return err
	}
	var body bytes.Buffer
	if err := page.Render(&body); err != nil {
		return fmt.Errorf("bench: render report: %w", err)
	}
	// The table and workload go after the charts, as preformatted text.
	summary := fmt.Sprintf("<h2>fanout bench — scenario %s</h2><p>%s</p><pre>%s</pre>",
		html.EscapeString(sc.Name), html.EscapeString(sc.Note), html.EscapeString(table.String()))
	out := bytes.Replace(body.Bytes(), []byte("</body>"), []byte(summary+"</body>"), 1)
	_, err := w.Write(out)
	return err
}

func rateChart(sc Scenario, results []*Result) *charts.Line {
	line := charts.NewLine()
	line.SetGlobalOptions(
		charts.WithTitleOpts(opts.Title{Title: "Delivered lines per second", Subtitle: sc.Note}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"}),
		charts.WithXAxisOpts(opts.XAxis{Name: "second"}),
	)
	longest := 0
	for _, r := range results {
		longest = max(longest, len(r.Timeline))
	}
	x := make([]string, longest)
	for i := range x {
		x[i] = strconv.Itoa(i + 1)
	}
	line.SetXAxis(x)
	for _, r := range results {
		data := make([]opts.LineData, len(r.Timeline))
		for i, v := range r.Timeline {
			data[i] = opts.LineData{Value: v}
		}
		line.AddSeries(r.Target, data)
	}
	return line
}

func latencyChart(results []*Result) *charts.Bar {
	bar := charts.NewBar()
	bar.SetGlobalOptions(
		charts.WithTitleOpts(opts.Title{Title: "End-to-end latency, ms"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "log"}),
	)
	bar.SetXAxis([]string{"p50", "p90", "p99", "p99.9", "max"})
	for _, r := range results {
		l := r.LatencyMs
		vals := []float64{l.P50, l.P90, l.P99, l.P999, l.Max}
		data := make([]opts.BarData, len(vals))
		for i, v := range vals {
			data[i] = opts.BarData{Value: v}
		}
		bar.AddSeries(r.Target, data)
	}
	return bar
}
