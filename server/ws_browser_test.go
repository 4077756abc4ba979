package server

import (
	"strings"
	"testing"

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
	lastLine := `(() => { const li = document.querySelector("#log li:last-child"); return li ? li.querySelector(".from").textContent + "|" + li.querySelector(".text").textContent : ""; })()`

	b.Do(t, "load the page", chromedp.Navigate("http://"+s.WSAddrs()[0].String()+"/"))
	b.WaitJS(t, "the page connects", `document.getElementById("state").dataset.state === "open"`)
	waitOpen(t, s, 2)

	// The TCP client's line appears, with its ID (learnt from its own
	// line as the page's client sees it below).
	tcp.send("hello from tcp ✓\n")
	b.WaitJS(t, "the TCP client's line appears", `document.querySelectorAll("#log li").length === 1`)
	shown := b.Eval(t, lastLine)
	id, text, _ := strings.Cut(shown, "|")
	if text != "hello from tcp ✓" || id == "" || id == "you" {
		t.Fatalf("line shows %q", shown)
	}

	// A line typed on the page reaches the TCP client, from the page's ID.
	b.Do(t, "type a line", chromedp.SendKeys(chromedp.ID("input"), "typed in the browser"+kb.Enter))
	got := tcp.mustReadLine()
	pageID, line, _ := strings.Cut(got, ":")
	if line != "typed in the browser" || pageID == id {
		t.Fatalf("TCP client got %q", got)
	}

	// Markup is shown as text and runs nothing.
	const markup = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>`
	tcp.send(markup + "\n")
	b.WaitJS(t, "the markup line appears", `document.querySelectorAll("#log li").length === 3`)
	if got := b.Eval(t, lastLine); got != id+"|"+markup {
		t.Errorf("markup line shows %q", got)
	}
	if got := b.Eval(t, `String(document.querySelectorAll("#log script, #log img, #log b").length) + "|" + String(window.pwned)`); got != "0|undefined" {
		t.Errorf("markup became elements or ran: %q", got)
	}
	for _, m := range b.Console() {
		if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.Contains(m.Text, "favicon.ico") {
			t.Errorf("console: %v", m)
		}
	}
}
