package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fanout/fanout/internal/browsertest"
)

// TestWSPageInBrowserE2E drives the page in headless Chromium against the
// real WebSocket listener, with a TCP client in the same broadcast: the
// page connects, the TCP client's line appears with its ID, a line typed
// on the page reaches the TCP client, and a line with markup shows as
// text. Skipped outside CI when Chromium is missing; fails in CI.
func TestWSPageInBrowserE2E(t *testing.T) {
	b := browsertest.Start(t)
	s, _ := startWSServer(t, Config{})
	tcp := dial(t, s)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nconsole: %v", what, err, b.Console())
		}
	}
	waitJS := func(what, expr string) {
		t.Helper()
		run(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond)))
	}
	eval := func(expr string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	lastLine := `(() => { const li = document.querySelector("#log li:last-child"); return li ? li.querySelector(".from").textContent + "|" + li.querySelector(".text").textContent : ""; })()`

	run("load the page", chromedp.Navigate("http://"+s.WSAddrs()[0].String()+"/"))
	waitJS("the page connects", `document.getElementById("state").dataset.state === "open"`)
	waitOpen(t, s, 2)

	// The TCP client's line appears, with its ID (learnt from its own
	// line as the page's client sees it below).
	tcp.send("hello from tcp ✓\n")
	waitJS("the TCP client's line appears", `document.querySelectorAll("#log li").length === 1`)
	shown := eval(lastLine)
	id, text, _ := strings.Cut(shown, "|")
	if text != "hello from tcp ✓" || id == "" || id == "you" {
		t.Fatalf("line shows %q", shown)
	}

	// A line typed on the page reaches the TCP client, from the page's ID.
	run("type a line", chromedp.SendKeys(chromedp.ID("input"), "typed in the browser"+kb.Enter))
	got := tcp.mustReadLine()
	pageID, line, _ := strings.Cut(got, ":")
	if line != "typed in the browser" || pageID == id {
		t.Fatalf("TCP client got %q", got)
	}

	// Markup is shown as text and runs nothing.
	const markup = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>`
	tcp.send(markup + "\n")
	waitJS("the markup line appears", `document.querySelectorAll("#log li").length === 3`)
	if got := eval(lastLine); got != id+"|"+markup {
		t.Errorf("markup line shows %q", got)
	}
	if got := eval(`String(document.querySelectorAll("#log script, #log img, #log b").length) + "|" + String(window.pwned)`); got != "0|undefined" {
		t.Errorf("markup became elements or ran: %q", got)
	}
	for _, m := range b.Console() {
		if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.Contains(m.Text, "favicon.ico") {
			t.Errorf("console: %v", m)
		}
	}
}
