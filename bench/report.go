package bench

import (
	"bytes"
	_ "embed" // the chart library, inlined into report pages
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/components"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// echartsJS is Apache ECharts 5.6.0 from the npm registry (see
// assets/README.md and its license beside it).
//
//go:embed assets/echarts.min.js
var echartsJS []byte

// inlineHost is the asset host the page is rendered with when ECharts is
// to be inlined; its script tag is then replaced by the library itself.
const inlineHost = "./fanout-inline/"

// WriteReport writes one self-contained HTML page with the results: the
// delivery rate over the measured window and the latency percentiles, one
// series per target, and the comparison table. ECharts is inlined, so the
// page renders with no network; with assetsHost set (a URL or a folder
// holding echarts.min.js) the page loads it from there instead and is
// ~1 MB smaller.
func WriteReport(w io.Writer, sc Scenario, results []*Result, assetsHost string) error {
	page := components.NewPage()
	page.SetPageTitle("fanout bench: " + sc.Name)
	inline := assetsHost == ""
	if inline {
		assetsHost = inlineHost
	}
	// go-echarts joins host and file name as they are: a directory needs
	// its trailing slash, or "/dir" becomes "/direcharts.min.js".
	if !strings.HasSuffix(assetsHost, "/") {
		assetsHost += "/"
	}
	init := opts.Initialization{AssetsHost: assetsHost}
	page.SetAssetsHost(assetsHost)
	rate, lat := rateChart(sc, results), latencyChart(results)
	// Each chart validates its own assets when added, so the host is set on
	// the charts, not only on the page.
	rate.SetGlobalOptions(charts.WithInitializationOpts(init))
	lat.SetGlobalOptions(charts.WithInitializationOpts(init))
	page.AddCharts(rate, lat)
	if sent := sentChart(results); sent != nil {
		sent.SetGlobalOptions(charts.WithInitializationOpts(init))
		page.AddCharts(sent)
	}

	var table bytes.Buffer
	if err := WriteTable(&table, results); err != nil {
		return err
	}
	var body bytes.Buffer
	if err := page.Render(&body); err != nil {
		return fmt.Errorf("bench: render report: %w", err)
	}
	// The table and workload go after the charts, as preformatted text.
	summary := fmt.Sprintf("<h2>fanout bench — scenario %s</h2><pre>%s</pre><pre>%s</pre>",
		html.EscapeString(sc.Name), html.EscapeString(describe(sc)), html.EscapeString(table.String()))
	out := bytes.Replace(body.Bytes(), []byte("</body>"), []byte(summary+"</body>"), 1)
	if inline {
		tag := []byte(`<script src="` + inlineHost + `echarts.min.js"></script>`)
		if !bytes.Contains(out, tag) {
			return fmt.Errorf("bench: render report: no ECharts script tag to inline")
		}
		script := append(append([]byte("<script>"), bytes.ReplaceAll(echartsJS, []byte("</script"), []byte(`<\/script`))...), "</script>"...)
		out = bytes.ReplaceAll(out, tag, nil)
		out = bytes.Replace(out, []byte("</head>"), append(script, "</head>"...), 1)
	}
	_, err := w.Write(out)
	return err
}

func rateChart(sc Scenario, results []*Result) *charts.Line {
	line := charts.NewLine()
	sub := "deliveries (a line reaching one client) received in each second of the measured window, warm-up left out"
	if len(results) > 0 {
		sub += fmt.Sprintf("; the table's %.0f deliveries/s counts lines sent in the window", results[0].DeliveredPerSec)
	}
	line.SetGlobalOptions(
		charts.WithTitleOpts(opts.Title{Title: "Deliveries per second", Subtitle: sub}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"}),
		charts.WithXAxisOpts(opts.XAxis{Name: "second"}),
	)
	longest := 0
	for _, r := range results {
		longest = max(longest, len(measured(r)))
	}
	x := make([]string, longest)
	for i := range x {
		x[i] = strconv.Itoa(i + 1)
	}
	line.SetXAxis(x)
	for _, r := range results {
		samples := measured(r)
		data := make([]opts.LineData, len(samples))
		for i, v := range samples {
			data[i] = opts.LineData{Value: v}
		}
		line.AddSeries(r.Target, data)
	}
	return line
}

// measured returns the timeline's seconds of the measured window: the
// first samples cover the warm-up.
func measured(r *Result) []float64 {
	skip := int((r.Workload.Warmup + time.Second - 1) / time.Second)
	if skip >= len(r.Timeline) {
		return nil
	}
	return r.Timeline[skip:]
}

// sentChart is the lines the senders wrote in each second from the first
// line, warm-up included (a slow reader's cut is timed from there too);
// nil when no result has such samples.
func sentChart(results []*Result) *charts.Line {
	longest := 0
	for _, r := range results {
		longest = max(longest, len(r.SentTimeline))
	}
	if longest == 0 {
		return nil
	}
	sub := "lines written to the sockets in each second from the first line sent"
	for _, r := range results {
		if len(r.SlowCutAfterSeconds) > 0 {
			sub += fmt.Sprintf("; %s: last slow reader cut at %.1f s", r.Target, r.SlowCutLastSeconds)
		}
	}
	line := charts.NewLine()
	line.SetGlobalOptions(
		charts.WithTitleOpts(opts.Title{Title: "Lines sent per second", Subtitle: sub}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"}),
		charts.WithXAxisOpts(opts.XAxis{Name: "second"}),
	)
	x := make([]string, longest)
	for i := range x {
		x[i] = strconv.Itoa(i + 1)
	}
	line.SetXAxis(x)
	for _, r := range results {
		data := make([]opts.LineData, len(r.SentTimeline))
		for i, v := range r.SentTimeline {
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
