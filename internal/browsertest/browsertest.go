// Package browsertest starts a real headless browser for tests: Debian's
// Chromium, driven over the DevTools protocol with chromedp. Test-only.
//
// [Chromium] finds the browser: where it is missing, a test skips with a
// message saying how to install it, except under CI (the CI variable set),
// where .ci/run installs it and a missing browser fails the test. [Start]
// runs one browser per call with a new, empty profile, the flags this
// machine needs (as root, no sandbox; no GPU; no network but what the test
// opens: no QUIC, no background, component or sync traffic), and one tab;
// the test's Cleanup stops it and waits for it.
//
// Concurrency: a Browser's tab context may be used by one test goroutine
// at a time (chromedp's rule); Console is safe for concurrent use.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fanout/fanout/internal/testutil"
)

// DebianChromium is where Debian's chromium package puts the browser.
const DebianChromium = "/usr/bin/chromium"

// Chromium returns the path of the browser: "chromium" on PATH, else
// DebianChromium. When neither exists it skips the test, or fails it when
// the CI variable is set.
func Chromium(t testing.TB) string {
	t.Helper()
	return find(t, exec.LookPath, func(path string) bool { _, err := os.Stat(path); return err == nil }, os.Getenv("CI") != "")
}

// missingMessage is what a test without a browser says.
const missingMessage = "no Chromium: install Debian's browser with `apt-get install -y chromium` (.ci/run does) to run the browser tests"

func find(t testing.TB, lookPath func(string) (string, error), exists func(string) bool, ci bool) string {
	t.Helper()
	if path, err := lookPath("chromium"); err == nil {
		return path
	}
	if exists(DebianChromium) {
		return DebianChromium
	}
	if ci {
		t.Fatal(missingMessage + "; CI is set, so the browser tests may not skip")
		return ""
	}
	t.Skip(missingMessage)
	return ""
}

// Browser is a running headless Chromium with one tab.
type Browser struct {
	// Ctx is the tab's chromedp context: pass it (or a context derived from
	// it with a timeout) to chromedp.Run and chromedp.Do.
	Ctx context.Context

	output  testutil.Buffer // what Chromium wrote to stdout and stderr
	mu      sync.Mutex
	console []chromedp.ConsoleMessage // guarded by mu
}

// Start runs Chromium for t and opens its tab. Everything it started ends
// with the test: the tab, the browser process (waited for) and the
// goroutine that collects the console.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := Chromium(t)
	b := &Browser{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium's sandbox refuses to run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), // a new, empty profile; removed after the browser has exited
		chromedp.CombinedOutput(&b.output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	var collector sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // kills the browser and waits for it
		collector.Wait()
		if t.Failed() {
			t.Logf("chromium output:\n%s", b.output.String())
		}
	})
	// The first action starts the browser; it must not run under a timeout
	// (one would stop the browser when it expires).
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting chromium: %v\n%s", err, b.output.String())
	}
	messages := chromedp.Console(tabCtx) // subscribed from here on
	collector.Add(1)
	go func() {
		defer collector.Done()
		for m, err := range messages {
			if err != nil {
				return // the tab's context ended
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	b.Ctx = tabCtx
	return b
}

// Console returns what the page wrote to the console so far: console API
// calls, uncaught exceptions and the browser's own log entries (a blocked
// request, a Content-Security-Policy violation).
func (b *Browser) Console() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.console...)
}

// actionLimit bounds one step of a test driving the page: a bound for a
// stuck page, not a timing.
const actionLimit = 30 * time.Second

// Do runs actions in the tab, failing t with the page's console if they
// fail or take longer than actionLimit.
func (b *Browser) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, actionLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\nconsole: %v", what, err, b.Console())
	}
}

// WaitJS waits until the JavaScript expression expr is true in the page.
func (b *Browser) WaitJS(t testing.TB, what, expr string) {
	t.Helper()
	b.Do(t, what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond)))
}

// Eval returns the string the JavaScript expression expr evaluates to in
// the page.
func (b *Browser) Eval(t testing.TB, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, actionLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}
