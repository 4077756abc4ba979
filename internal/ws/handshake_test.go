package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// browserRequest is a handshake as Chromium sends it, with the RFC 6455
// 1.3 example key.
const browserRequest = "GET /ws HTTP/1.1\r\n" +
	"Host: chat.example:8080\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/150.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: http://chat.example:8080\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

// rfcAccept is RFC 6455 1.3's answer to its example key.
const rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

// request builds a handshake for /ws from header lines, replacing the
// defaults of the same name; a value of "-" drops the header.
func request(startLine string, headers ...string) string {
	defaults := []string{
		"Host: example.com",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
		"Sec-WebSocket-Version: 13",
	}
	var b strings.Builder
	b.WriteString(startLine + "\r\n")
	name := func(h string) string { n, _, _ := strings.Cut(h, ":"); return strings.ToLower(n) }
	overridden := map[string]bool{}
	for _, h := range headers {
		overridden[name(h)] = true
	}
	for _, h := range defaults {
		if !overridden[name(h)] {
			b.WriteString(h + "\r\n")
		}
	}
	for _, h := range headers {
		if !strings.HasSuffix(h, ": -") {
			b.WriteString(h + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

const wsLine = "GET /ws HTTP/1.1"

type handshakeCase struct {
	name    string
	in      string
	origins string // --ws-origin; "" the same-host default
	target  Target // on success
	err     error
	origin  string // the Origin reported, if any
}

func handshakeCases() []handshakeCase {
	return []handshakeCase{
		{name: "browser handshake", in: browserRequest, target: TargetUpgrade, origin: "http://chat.example:8080"},
		{name: "minimal handshake, no Origin (not a browser)", in: request(wsLine), target: TargetUpgrade},
		{name: "header names in any case", in: request(wsLine, "UPGRADE: WebSocket", "connection: keep-alive, upgrade", "sec-websocket-version: 13"),
			target: TargetUpgrade},
		{name: "query string on /ws", in: request("GET /ws?room=1 HTTP/1.1"), target: TargetUpgrade},
		{name: "the page", in: "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\n\r\n", target: TargetPage},
		{name: "the page over HTTP/1.0 without Host", in: "GET / HTTP/1.0\r\n\r\n", target: TargetPage},
		{name: "the page with a query", in: "GET /?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", target: TargetPage},

		// Not an upgrade, or not to the right place.
		{name: "non-upgrade request to /ws", in: "GET /ws HTTP/1.1\r\nHost: example.com\r\n\r\n", err: ErrNotUpgrade},
		{name: "Upgrade without Connection: upgrade", in: request(wsLine, "Connection: keep-alive"), err: ErrNotUpgrade},
		{name: "Upgrade to something else", in: request(wsLine, "Upgrade: h2c"), err: ErrNotUpgrade},
		{name: "unknown path", in: request("GET /chat HTTP/1.1"), err: ErrNotFound},
		{name: "/ws/ is not /ws", in: request("GET /ws/ HTTP/1.1"), err: ErrNotFound},
		{name: "POST /ws", in: request("POST /ws HTTP/1.1"), err: ErrMethod},
		{name: "lower-case get", in: request("get /ws HTTP/1.1"), err: ErrMethod},
		{name: "HEAD /", in: "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrMethod},
		{name: "HTTP/1.0 upgrade", in: request("GET /ws HTTP/1.0"), err: ErrHTTPVersion},
		{name: "HTTP/2.0 request line", in: request("GET /ws HTTP/2.0"), err: ErrHTTPVersion},

		// The WebSocket headers (426).
		{name: "version 8", in: request(wsLine, "Sec-WebSocket-Version: 8"), err: ErrWebSocketVersion},
		{name: "version missing", in: request(wsLine, "Sec-WebSocket-Version: -"), err: ErrWebSocketVersion},
		{name: "version twice", in: request(wsLine, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13"), err: ErrWebSocketVersion},
		{name: "version list", in: request(wsLine, "Sec-WebSocket-Version: 13, 8"), err: ErrWebSocketVersion},
		{name: "key missing", in: request(wsLine, "Sec-WebSocket-Key: -"), err: ErrWebSocketKey},
		{name: "key not base64", in: request(wsLine, "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="), err: ErrWebSocketKey},
		{name: "key of 15 bytes", in: request(wsLine, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j"), err: ErrWebSocketKey},
		{name: "key of 17 bytes", in: request(wsLine, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=x"), err: ErrWebSocketKey},
		{name: "key with non-zero padding bits", in: request(wsLine, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="), err: ErrWebSocketKey},
		{name: "key twice", in: request(wsLine, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="), err: ErrWebSocketKey},

		// Origin (403).
		{name: "Origin of another site", in: request(wsLine, "Origin: https://evil.example"), err: ErrOriginRefused, origin: "https://evil.example"},
		{name: "Origin of the same host, other port", in: request(wsLine, "Host: example.com:8080", "Origin: http://example.com:9090"),
			err: ErrOriginRefused, origin: "http://example.com:9090"},
		{name: "Origin of the same host, default port", in: request(wsLine, "Host: Example.COM", "Origin: https://example.com"),
			target: TargetUpgrade, origin: "https://example.com"},
		{name: "Origin with the default port written out", in: request(wsLine, "Host: example.com:443", "Origin: https://example.com"),
			target: TargetUpgrade, origin: "https://example.com"},
		{name: "Origin null", in: request(wsLine, "Origin: null"), err: ErrOriginRefused, origin: "null"},
		{name: "Origin empty", in: request(wsLine, "Origin: "), err: ErrOriginRefused, origin: ""},
		{name: "Origin twice", in: request(wsLine, "Origin: http://example.com", "Origin: http://example.com"), err: ErrOriginRefused},
		{name: "Origin in the allow-list", origins: "https://app.example, http://localhost:3000",
			in: request(wsLine, "Origin: HTTPS://APP.example:443"), target: TargetUpgrade, origin: "HTTPS://APP.example:443"},
		{name: "same host not allowed once a list is given", origins: "https://app.example",
			in: request(wsLine, "Origin: http://example.com"), err: ErrOriginRefused, origin: "http://example.com"},
		{name: "any origin", origins: "*", in: request(wsLine, "Origin: null"), target: TargetUpgrade, origin: "null"},

		// Malformed (400), refused with the first rule broken.
		{name: "TLS hello on the plain port", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", err: ErrMalformedRequest},
		{name: "bare LF", in: "GET /ws HTTP/1.1\nHost: a\n\n", err: ErrBareLF},
		{name: "bare LF in a header", in: "GET /ws HTTP/1.1\r\nHost: a\n\r\n", err: ErrBareLF},
		{name: "folded header", in: request(wsLine, "X-A: 1", " continued"), err: ErrMalformedRequest},
		{name: "space before the colon", in: request(wsLine, "Host : example.com"), err: ErrMalformedRequest},
		{name: "header without a colon", in: request(wsLine, "Hello"), err: ErrMalformedRequest},
		{name: "control byte in a value", in: request(wsLine, "X-A: a\x01b"), err: ErrMalformedRequest},
		{name: "DEL in a value", in: request(wsLine, "X-A: a\x7fb"), err: ErrMalformedRequest},
		{name: "two spaces in the request line", in: request("GET  /ws HTTP/1.1"), err: ErrMalformedRequest},
		{name: "absolute-form target", in: request("GET http://example.com/ws HTTP/1.1"), err: ErrMalformedRequest},
		{name: "no version", in: "GET /ws\r\nHost: a\r\n\r\n", err: ErrMalformedRequest},
		{name: "not HTTP", in: request("GET /ws FTP/1.1"), err: ErrMalformedRequest},
		{name: "Host missing", in: request(wsLine, "Host: -"), err: ErrHostHeader},
		{name: "Host twice", in: request(wsLine, "Host: a", "Host: b"), err: ErrHostHeader},
		{name: "a body", in: request(wsLine, "Content-Length: 5") + "hello", err: ErrRequestBody},
		{name: "chunked body", in: request(wsLine, "Transfer-Encoding: chunked"), err: ErrRequestBody},
		{name: "Content-Length 0 is no body", in: request(wsLine, "Content-Length: 0"), target: TargetUpgrade},
	}
}

// TestParseHandshakeCases runs each case whole and byte by byte: a request
// arriving one byte per read must give the same answer, and no answer
// before its head has ended unless the bytes so far already break a rule.
func TestParseHandshakeCases(t *testing.T) {
	for _, tc := range handshakeCases() {
		t.Run(tc.name, func(t *testing.T) {
			policy, err := ParseOriginPolicy(tc.origins)
			if err != nil {
				t.Fatal(err)
			}
			u := &Upgrader{Origins: policy}
			for _, bytewise := range []bool{false, true} {
				req, n, err := parseFed(t, u, []byte(tc.in), bytewise)
				if !errors.Is(err, tc.err) {
					t.Fatalf("bytewise %v: error %v, want %v", bytewise, err, tc.err)
				}
				if tc.err != nil {
					if tc.origin != "" && string(req.Origin) != tc.origin {
						t.Errorf("bytewise %v: Origin %q reported, want %q", bytewise, req.Origin, tc.origin)
					}
					continue
				}
				if req.Target != tc.target {
					t.Errorf("bytewise %v: target %d, want %d", bytewise, req.Target, tc.target)
				}
				if end := strings.Index(tc.in, "\r\n\r\n") + 4; n != end {
					t.Errorf("bytewise %v: consumed %d, want the head's %d", bytewise, n, end)
				}
				if tc.target == TargetUpgrade && string(req.Accept[:]) != rfcAccept {
					t.Errorf("bytewise %v: Accept %q, want %q", bytewise, req.Accept, rfcAccept)
				}
				if string(req.Origin) != tc.origin {
					t.Errorf("bytewise %v: Origin %q, want %q", bytewise, req.Origin, tc.origin)
				}
			}
		})
	}
}

// parseFed feeds in to u.Parse whole, or one more byte per call.
func parseFed(t *testing.T, u *Upgrader, in []byte, bytewise bool) (Request, int, error) {
	t.Helper()
	var st HandshakeState
	if !bytewise {
		req, n, err := u.Parse(in, &st)
		if err == nil && n == 0 {
			t.Fatalf("a whole request needs more")
		}
		return req, n, err
	}
	for i := 1; i <= len(in); i++ {
		req, n, err := u.Parse(in[:i], &st)
		if err != nil || n > 0 {
			return req, n, err
		}
	}
	t.Fatalf("the whole request, fed byte by byte, still needs more")
	return Request{}, 0, nil
}

// TestParseHandshakeLeavesFramesAfterTheHead: bytes the client sent after
// its head (frames, sent at once by an eager client) are not consumed.
func TestParseHandshakeLeavesFramesAfterTheHead(t *testing.T) {
	head := request(wsLine)
	in := []byte(head + "\x81\x85rest")
	req, n, err := (&Upgrader{}).Parse(in, &HandshakeState{})
	if err != nil || req.Target != TargetUpgrade || n != len(head) {
		t.Fatalf("target %d, n %d (head %d), err %v", req.Target, n, len(head), err)
	}
}

// TestParseHandshakeHeaderCap: a head that has not ended within the cap is
// refused with 431 once the cap is reached, not read on; one that ends
// just inside it is served.
func TestParseHandshakeHeaderCap(t *testing.T) {
	u := &Upgrader{MaxHeaderBytes: 1024}
	head := []byte(request(wsLine, "X-Pad: "+strings.Repeat("p", 2000)))
	var st HandshakeState
	for i := 1; i <= len(head); i++ {
		_, n, err := u.Parse(head[:i], &st)
		if i < 1024 && (err != nil || n != 0) {
			t.Fatalf("at %d bytes: n %d, err %v; want need-more", i, n, err)
		}
		if i >= 1024 {
			if !errors.Is(err, ErrHeaderTooLarge) {
				t.Fatalf("at %d bytes: err %v, want %v", i, err, ErrHeaderTooLarge)
			}
			break
		}
	}
	base := request(wsLine, "X-Pad: ")
	fits := []byte(request(wsLine, "X-Pad: "+strings.Repeat("p", 1024-len(base))))
	if len(fits) != 1024 {
		t.Fatalf("test head is %d bytes", len(fits))
	}
	if _, n, err := u.Parse(fits, &HandshakeState{}); err != nil || n != 1024 {
		t.Fatalf("a head of exactly the cap: n %d, err %v", n, err)
	}
	if _, _, err := (&Upgrader{}).Parse(bytes.Repeat([]byte("A"), DefaultMaxHeaderBytes), &HandshakeState{}); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("default cap: %v", err)
	}
}

// TestParseHandshakeNoAllocs: accepting a handshake allocates nothing.
func TestParseHandshakeNoAllocs(t *testing.T) {
	u := &Upgrader{}
	in := []byte(browserRequest)
	allocs := testing.AllocsPerRun(100, func() {
		req, _, err := u.Parse(in, &HandshakeState{})
		if err != nil || req.Target != TargetUpgrade {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per handshake, want 0", allocs)
	}
}

// TestParseHandshakeAgreesWithNetHTTP: whatever this parser accepts,
// net/http's parser reads the same way.
func TestParseHandshakeAgreesWithNetHTTP(t *testing.T) {
	for _, tc := range handshakeCases() {
		if tc.err != nil {
			continue
		}
		checkAgainstNetHTTP(t, []byte(tc.in))
	}
}

// checkAgainstNetHTTP parses in with Parse and, if it is accepted, with
// http.ReadRequest: both must accept it and agree on what it says.
func checkAgainstNetHTTP(t *testing.T, in []byte) {
	t.Helper()
	u := &Upgrader{Origins: OriginPolicy{any: true}}
	req, n, err := u.Parse(in, &HandshakeState{})
	if err != nil || n == 0 {
		return
	}
	hr, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(in[:n])))
	if herr != nil {
		t.Fatalf("accepted %q, which net/http refuses: %v", in[:n], herr)
	}
	if hr.Method != "GET" {
		t.Fatalf("accepted %q: net/http reads method %q", in[:n], hr.Method)
	}
	if hr.Host != string(req.Host) {
		t.Fatalf("accepted %q: Host %q, net/http %q", in[:n], req.Host, hr.Host)
	}
	want := map[Target]string{TargetUpgrade: PathWebSocket, TargetPage: PathPage}[req.Target]
	if hr.URL.Path != want {
		t.Fatalf("accepted %q as %q: net/http reads path %q", in[:n], want, hr.URL.Path)
	}
	if req.Target == TargetUpgrade {
		if got := AcceptKey(hr.Header.Get("Sec-Websocket-Key")); got != string(req.Accept[:]) {
			t.Fatalf("accepted %q: Accept %q, net/http's key gives %q", in[:n], req.Accept, got)
		}
		if origins := hr.Header.Values("Origin"); len(origins) > 0 && origins[0] != string(req.Origin) {
			t.Fatalf("accepted %q: Origin %q, net/http %q", in[:n], req.Origin, origins[0])
		}
	}
	if hr.ContentLength > 0 || len(hr.TransferEncoding) > 0 {
		t.Fatalf("accepted %q, which has a body", in[:n])
	}
	if b, _ := io.ReadAll(hr.Body); len(b) > 0 {
		t.Fatalf("accepted %q, which has a body", in[:n])
	}
}

// TestOriginPolicy covers the policy on its own.
func TestOriginPolicy(t *testing.T) {
	for _, tc := range []struct {
		list, origin, host string
		want               bool
	}{
		{"", "http://localhost:8080", "localhost:8080", true},
		{"", "http://localhost:8080", "localhost:8081", false},
		{"", "http://localhost", "localhost:80", true},
		{"", "https://localhost", "localhost:80", false},
		{"", "http://[::1]:8080", "[::1]:8080", true},
		{"", "http://[::1]:8080", "[::2]:8080", false},
		{"", "http://127.0.0.1:8080", "127.0.0.1:8080", true},
		{"", "http://a.example", "b.example", false},
		{"", "http://a.example/path", "a.example", false},
		{"", "http://user@a.example", "a.example", false},
		{"", "ws://a.example", "a.example", false},
		{"", "chrome-extension://abcdef", "abcdef", false},
		{"", "http://a.example:0", "a.example:0", false},
		{"", "http://a.example:99999", "a.example:99999", false},
		{"", "http://a.example:", "a.example:", false},
		{"", "http://a.example", "", false},
		{"https://a.example", "https://a.example", "elsewhere", true},
		{"https://a.example", "http://a.example", "a.example", false},
		{"https://a.example:8443,http://b.example", "http://B.example:80", "x", true},
		{"https://a.example:8443,http://b.example", "https://a.example", "x", false},
		{"*", "null", "", true},
	} {
		p, err := ParseOriginPolicy(tc.list)
		if err != nil {
			t.Fatalf("%q: %v", tc.list, err)
		}
		if got := p.Allowed([]byte(tc.origin), []byte(tc.host)); got != tc.want {
			t.Errorf("policy %q (%s): Origin %q to Host %q allowed %v, want %v", tc.list, p, tc.origin, tc.host, got, tc.want)
		}
	}
	for _, bad := range []string{"example.com", "http://", "ftp://a.example", "https://a.example/", "https://a.example,", "*,https://a.example", "null"} {
		if _, err := ParseOriginPolicy(bad); err == nil {
			t.Errorf("ParseOriginPolicy(%q) accepted", bad)
		}
	}
}

// TestResponses reads the responses back with net/http's parser.
func TestResponses(t *testing.T) {
	req, _, err := (&Upgrader{}).Parse([]byte(request(wsLine)), &HandshakeState{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(AppendUpgradeResponse(nil, &req))), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != rfcAccept ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") ||
		resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("101: %d %v", resp.StatusCode, resp.Header)
	}

	for _, e := range []*HTTPError{ErrMalformedRequest, ErrOriginRefused, ErrNotFound, ErrMethod, ErrWebSocketVersion, ErrWebSocketKey, ErrHeaderTooLarge, {Status: 503, Reason: "draining"}} {
		raw := AppendErrorResponse(nil, e)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%v: %v", e, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != e.Status || string(body) != e.Reason+"\n" || !resp.Close {
			t.Errorf("%v: status %d, body %q, close %v", e, resp.StatusCode, body, resp.Close)
		}
		if e.Status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("426 without Sec-WebSocket-Version: %v", resp.Header)
		}
		if e.Status == 405 && resp.Header.Get("Allow") != "GET" {
			t.Errorf("405 without Allow: %v", resp.Header)
		}
	}
}
