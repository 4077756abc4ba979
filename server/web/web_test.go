package web_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fanout/fanout/internal/browsertest"
	"github.com/fanout/fanout/internal/testutil"
	"github.com/fanout/fanout/internal/ws"
	"github.com/fanout/fanout/internal/ws/wstest"
	"github.com/fanout/fanout/server/web"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

func TestResponse(t *testing.T) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(web.Response())), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !bytes.Equal(body, web.Page()) || !resp.Close ||
		resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("status %d, %d bytes of %d, close %v, headers %v", resp.StatusCode, len(body), len(web.Page()), resp.Close, resp.Header)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if csp != web.CSP() || !regexp.MustCompile(`^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; style-src 'sha256-[A-Za-z0-9+/]{43}='; connect-src 'self';`).MatchString(csp) {
		t.Errorf("CSP %q", csp)
	}
}

// TestPageStaysSelfContained guards what the browser test cannot see at a
// glance: the page loads nothing from elsewhere and never parses text as
// HTML.
func TestPageStaysSelfContained(t *testing.T) {
	page := string(web.Page())
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", " src=", " href=", "http://", "https://", "parseInt", "Number(", "JSON.parse"} {
		if strings.Contains(page, banned) {
			t.Errorf("the page contains %q", banned)
		}
	}
}

// TestPageInBrowser loads the page in headless Chromium from a WebSocket
// server made of package ws (the one that will serve it in fanout: GET /
// answered with web.Response, GET /ws upgraded) and checks what a person
// would: the page connects and says so, a line from another client shows
// with its sender's ID, a line typed on the page reaches the server, a line
// with markup shows as text, and a dropped connection comes back.
func TestPageInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	s := wstest.Start(t, wstest.Config{Page: web.Response(), FirstID: 7332994930581504001})
	lastLine := `(() => { const li = document.querySelector("#log li:last-child"); return li ? li.querySelector(".from").textContent + "|" + li.querySelector(".text").textContent : ""; })()`

	b.Do(t, "load the page", chromedp.Navigate("http://"+s.Addr+"/"))
	b.WaitJS(t, "the page connects", `document.getElementById("state").dataset.state === "open"`)
	if got := b.Eval(t, `document.getElementById("state").textContent`); got != "connected" {
		t.Errorf("state shows %q", got)
	}
	waitConns(t, s, 1)

	// A line from a TCP client, whose ID is past 2^53: it must show exactly.
	const tcpID = 9007199254740993
	s.Broadcast(tcpID, []byte("hello from tcp ✓"))
	b.WaitJS(t, "the TCP client's line appears", `document.querySelectorAll("#log li").length === 1`)
	if got := b.Eval(t, lastLine); got != "9007199254740993|hello from tcp ✓" {
		t.Errorf("line shows %q", got)
	}

	// A line typed on the page reaches the server, from the page's connection.
	b.Do(t, "type a line", chromedp.SendKeys(chromedp.ID("input"), "typed in the browser"+kb.Enter))
	select {
	case l := <-s.Lines():
		if l.Text != "typed in the browser" || l.From != 7332994930581504001 || l.Binary {
			t.Errorf("server got %+v", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the typed line never reached the server")
	}
	if got := b.Eval(t, lastLine); got != "you|typed in the browser" {
		t.Errorf("own line shows %q", got)
	}

	// Markup is shown as text and runs nothing.
	const markup = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>`
	s.Broadcast(42, []byte(markup))
	b.WaitJS(t, "the markup line appears", `document.querySelectorAll("#log li").length === 3`)
	if got := b.Eval(t, lastLine); got != "42|"+markup {
		t.Errorf("markup line shows %q", got)
	}
	if got := b.Eval(t, `String(document.querySelectorAll("#log script, #log img, #log b").length) + "|" + String(window.pwned)`); got != "0|undefined" {
		t.Errorf("markup became elements or ran: %q", got)
	}

	// A line that is not UTF-8 arrives as a binary message and still shows.
	s.Broadcast(43, []byte("bytes \xff!"))
	b.WaitJS(t, "the binary line appears", `document.querySelectorAll("#log li").length === 4`)
	if got := b.Eval(t, lastLine); got != "43|bytes \uFFFD!" {
		t.Errorf("binary line shows %q", got)
	}

	// The server goes away (a drain): the page says so and reconnects. A
	// MutationObserver records every state shown, however briefly.
	b.Eval(t, `(() => { window.states = []; const st = document.getElementById("state");
		new MutationObserver(() => window.states.push(st.dataset.state)).observe(st, {attributes: true}); return ""; })()`)
	s.CloseAll(ws.CloseGoingAway, "server shutting down")
	select {
	case e := <-s.Ends():
		if e.ID != 7332994930581504001 || e.Code != ws.CloseGoingAway {
			t.Errorf("end %+v", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the page never answered the close")
	}
	waitConns(t, s, 1) // the new connection: the old one left the table before its End
	b.WaitJS(t, "the page shows it is back", `document.getElementById("state").dataset.state === "open"`)
	if got := b.Eval(t, `window.states.join(",")`); !strings.HasPrefix(got, "closed,connecting") || !strings.HasSuffix(got, "open") {
		t.Errorf("states shown: %q, want closed, connecting, ..., open", got)
	}

	for _, m := range b.Console() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			if strings.Contains(m.Text, "favicon.ico") {
				continue // the browser asks for an icon; the listener has none (404)
			}
			t.Errorf("console: %v", m)
		}
	}
}

func waitConns(t *testing.T, s *wstest.Server, n int) {
	t.Helper()
	testutil.WaitFor(t, "the page's WebSocket connection", func() bool { return s.Conns() == n })
}
