// Package web holds the page the WebSocket listener serves at GET /: one
// small HTML file with its script and style inline, no dependency, embedded
// in the binary. It shows the broadcast live with each line's sender ID,
// the connection's state, and an input box; it reconnects with back-off
// and jitter, and inserts text only as text (textContent), never as HTML.
// It connects to ws(s)://<the host it came from>/ws.
//
// The answer is built once, at start: the whole HTTP/1.1 response with a
// Content-Security-Policy that allows only the page's own inline script
// and style (by their SHA-256) and connections back to its own origin, so
// that even a line that slipped into the page as HTML could run nothing.
// The bytes are read-only and shared by every connection; safe for
// concurrent use.
package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"strconv"
)

//go:embed index.html
var page []byte

var response = buildResponse(page)

// Page returns the HTML. The bytes are shared: never modify them.
func Page() []byte { return page }

// Response returns the whole HTTP/1.1 answer to GET /: headers and page,
// ending with Connection: close (the page's WebSocket is a connection of
// its own). The bytes are shared: never modify them.
func Response() []byte { return response }

// CSP returns the page's Content-Security-Policy.
func CSP() string { return csp(page) }

func buildResponse(page []byte) []byte {
	var b []byte
	b = append(b, "HTTP/1.1 200 OK\r\n"+
		"Content-Type: text/html; charset=utf-8\r\n"+
		"Cache-Control: no-cache\r\n"+
		"X-Content-Type-Options: nosniff\r\n"+
		"Referrer-Policy: no-referrer\r\n"+
		"Content-Security-Policy: "...)
	b = append(b, csp(page)...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(page)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	return append(b, page...)
}

// csp allows nothing but the page's inline script and style, by hash, and
// WebSocket connections to the page's own origin ('self' covers ws: and
// wss: to the same host and port).
func csp(page []byte) string {
	return "default-src 'none'; script-src '" + inlineHash(page, "script") + "'; style-src '" + inlineHash(page, "style") +
		"'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// inlineHash returns "sha256-<base64>" of the text of the page's one
// <tag> element. The page is embedded: a missing element is a build bug.
func inlineHash(page []byte, tag string) string {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	i := bytes.Index(page, open)
	j := bytes.Index(page, end)
	if i < 0 || j < i || bytes.Count(page, open) != 1 {
		panic("web: index.html must have exactly one <" + tag + "> element")
	}
	sum := sha256.Sum256(page[i+len(open) : j])
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
