package browsertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fanout/fanout/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// recorder stands in for a test: it records Fatal and Skip instead of
// ending the goroutine.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = args[0].(string) }
func (r *recorder) Skip(args ...any)  { r.skip = args[0].(string) }

func TestFindChromium(t *testing.T) {
	notOnPath := func(string) (string, error) { return "", errors.New("not found") }
	onPath := func(string) (string, error) { return "/opt/bin/chromium", nil }
	nowhere := func(string) bool { return false }
	debian := func(path string) bool { return path == DebianChromium }
	for _, tc := range []struct {
		name        string
		lookPath    func(string) (string, error)
		exists      func(string) bool
		ci          bool
		path        string
		fatal, skip bool
	}{
		{name: "on PATH", lookPath: onPath, exists: nowhere, path: "/opt/bin/chromium"},
		{name: "where Debian puts it", lookPath: notOnPath, exists: debian, ci: true, path: DebianChromium},
		{name: "missing outside CI skips", lookPath: notOnPath, exists: nowhere, skip: true},
		{name: "missing in CI fails", lookPath: notOnPath, exists: nowhere, ci: true, fatal: true},
	} {
		r := &recorder{TB: t}
		path := find(r, tc.lookPath, tc.exists, tc.ci)
		if path != tc.path || (r.fatal != "") != tc.fatal || (r.skip != "") != tc.skip {
			t.Errorf("%s: path %q, fatal %q, skip %q", tc.name, path, r.fatal, r.skip)
		}
		if msg := r.fatal + r.skip; msg != "" && !strings.Contains(msg, "apt-get install -y chromium") {
			t.Errorf("%s: message %q does not say how to install the browser", tc.name, msg)
		}
	}
}

// TestStart drives a page to prove the browser starts with the flags it
// needs here and stops with the test.
func TestStart(t *testing.T) {
	b := Start(t)
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`console.error("seen"); navigator.userAgent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "HeadlessChrome") {
		t.Errorf("user agent %q: not headless Chromium", got)
	}
	testutil.WaitFor(t, "the console message", func() bool {
		for _, m := range b.Console() {
			if m.Type == chromedp.ConsoleError && m.Text == "seen" {
				return true
			}
		}
		return false
	})
}
