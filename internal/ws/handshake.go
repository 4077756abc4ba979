package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
)

// DefaultMaxHeaderBytes bounds a request's head (request line and headers)
// when Upgrader.MaxHeaderBytes is 0. Browsers send about 500 bytes for a
// WebSocket handshake, more with cookies.
const DefaultMaxHeaderBytes = 8 << 10

// Paths the listener serves.
const (
	PathWebSocket = "/ws" // the upgrade
	PathPage      = "/"   // the page
)

// Target is what an accepted request asked for.
type Target uint8

// Targets.
const (
	TargetUpgrade Target = iota + 1 // GET /ws, a valid WebSocket handshake: answer with AppendUpgradeResponse
	TargetPage                      // GET /: answer with the page, then close
)

// Request is what [Upgrader.Parse] read. Host and Origin alias the
// caller's buffer (valid until it discards those bytes); they are set as
// soon as the headers could be read, also alongside an error, so that a
// refused Origin can be logged.
type Request struct {
	Target Target
	Accept [28]byte // Sec-WebSocket-Accept for the key (TargetUpgrade only)
	Host   []byte   // the Host header
	Origin []byte   // the Origin header; nil when there is none (a non-browser client)
}

// HandshakeState is what one connection's handshake keeps between reads:
// how far its buffered bytes were searched for the end of the head. The
// zero value is ready; 4 bytes; owned by the connection's goroutine.
type HandshakeState struct {
	scanned uint32
}

// Upgrader parses requests on the WebSocket listener. Read-only once in
// use, so one Upgrader serves every connection; safe for concurrent use.
type Upgrader struct {
	// MaxHeaderBytes bounds the request line and headers together; a head
	// that has not ended by then is refused with 431. 0 means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// Origins decides which browser pages may open a WebSocket. The zero
	// value allows the same host only.
	Origins OriginPolicy
}

// HTTPError is a refused request: the status to answer with (see
// [AppendErrorResponse]) and a reason for the body and the log. Every one
// the package returns is one of the Err variables below.
type HTTPError struct {
	Status int
	Reason string
}

func (e *HTTPError) Error() string {
	return "ws: " + e.Reason + " (HTTP " + strconv.Itoa(e.Status) + ")"
}

// Handshake errors returned by [Upgrader.Parse].
var (
	ErrMalformedRequest = &HTTPError{400, "malformed HTTP request"}
	ErrBareLF           = &HTTPError{400, "request line not ended by CRLF"}
	ErrHostHeader       = &HTTPError{400, "missing or repeated Host header"}
	ErrRequestBody      = &HTTPError{400, "request with a body"}
	ErrHTTPVersion      = &HTTPError{400, "WebSocket needs HTTP/1.1"}
	ErrNotUpgrade       = &HTTPError{400, "not a WebSocket upgrade request"}
	ErrOriginRefused    = &HTTPError{403, "origin not allowed"}
	ErrNotFound         = &HTTPError{404, "not found: try / or /ws"}
	ErrMethod           = &HTTPError{405, "method not allowed"}
	ErrWebSocketVersion = &HTTPError{426, "missing or unsupported Sec-WebSocket-Version (want 13)"}
	ErrWebSocketKey     = &HTTPError{426, "missing or bad Sec-WebSocket-Key"}
	ErrHeaderTooLarge   = &HTTPError{431, "request header too large"}
)

// Parse reads the request at the front of buf, the bytes a connection has
// buffered so far, always from the first byte the client sent (the
// caller discards nothing until Parse is done). It returns n == 0 and no
// error while the head has not ended: the caller waits for more and calls
// again with the same bytes and more after them; st remembers how far they
// were searched, so a request arriving byte by byte costs linear time.
// Once the head has ended, n is its length: the caller answers, and for
// TargetUpgrade discards n bytes and reads frames from what follows.
//
// Parsing is strict, one canonical form: CRLF line ends, a request line
// "METHOD /path HTTP/1.x", header names of token characters followed at
// once by ':', no folded lines, no control bytes in values, exactly one
// Host. A request that is refused returns an [*HTTPError]; its status
// follows the first rule broken, in this order: syntax (400), a head past
// the cap (431), a body (400), the path (404 unless / or /ws), the method
// (405 unless GET), then for /ws: HTTP/1.1 (400), Upgrade: websocket and
// Connection: upgrade (400), Sec-WebSocket-Version 13 (426),
// Sec-WebSocket-Key of 16 bytes in base64 (426), the Origin (403). Runs
// on the connection's goroutine; allocates nothing.
func (u *Upgrader) Parse(buf []byte, st *HandshakeState) (req Request, n int, err error) {
	if len(buf) > 0 && !isTokenChar(buf[0]) {
		return Request{}, 0, ErrMalformedRequest // not HTTP at all (a TLS hello, a TCP client): say so at once
	}
	maxHead := u.MaxHeaderBytes
	if maxHead <= 0 {
		maxHead = DefaultMaxHeaderBytes
	}
	end, err := findHeadEnd(buf[:min(len(buf), maxHead)], int(st.scanned))
	if err != nil {
		return Request{}, 0, err
	}
	if end < 0 {
		if len(buf) >= maxHead {
			return Request{}, 0, ErrHeaderTooLarge
		}
		st.scanned = uint32(len(buf))
		return Request{}, 0, nil
	}
	req, err = u.parseHead(buf[:end-2]) // without the empty line's CRLF
	if err != nil {
		return req, 0, err
	}
	return req, end, nil
}

// findHeadEnd returns the length of the head ("...\r\n\r\n") in buf, or -1
// if it has not ended yet; bytes before from are known to hold no '\n'
// that ends it. A '\n' without its '\r' is refused as soon as it is seen.
func findHeadEnd(buf []byte, from int) (int, error) {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1, nil
		}
		i += j
		if i == 0 || buf[i-1] != '\r' {
			return 0, ErrBareLF
		}
		if i >= 3 && buf[i-2] == '\n' {
			return i + 1, nil // buf[i-3] is '\r': each '\n' before was checked
		}
		i++
	}
	return -1, nil
}

// headFields is what parseHead collects from the headers.
type headFields struct {
	host, key, version, origin                []byte
	hosts, keys, versions, origins            int
	upgradeWebSocket, connectionUpgrade, body bool
}

// parseHead parses a complete head: the request line and the header lines,
// each ended by CRLF, without the final empty line.
func (u *Upgrader) parseHead(head []byte) (Request, error) {
	line, rest := cutCRLF(head)
	method, target, http11, err := parseRequestLine(line)
	if err != nil {
		return Request{}, err
	}
	var f headFields
	for len(rest) > 0 {
		line, rest = cutCRLF(rest)
		if err := f.add(line); err != nil {
			return Request{}, err
		}
	}
	if f.hosts > 1 || (f.hosts == 0 && http11) {
		return Request{}, ErrHostHeader
	}
	req := Request{Host: f.host}
	if f.origins > 0 {
		req.Origin = f.origin
	}
	if f.body {
		return req, ErrRequestBody
	}
	path := target
	if q := bytes.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	isGet := string(method) == "GET"
	switch string(path) {
	case PathPage:
		if !isGet {
			return req, ErrMethod
		}
		req.Target = TargetPage
		return req, nil
	case PathWebSocket:
	default:
		return req, ErrNotFound
	}
	switch {
	case !isGet:
		return req, ErrMethod
	case !http11:
		return req, ErrHTTPVersion
	case !f.upgradeWebSocket || !f.connectionUpgrade:
		return req, ErrNotUpgrade
	case f.versions != 1 || string(f.version) != "13":
		return req, ErrWebSocketVersion
	case f.keys != 1 || !validKey(f.key):
		return req, ErrWebSocketKey
	case f.origins > 1:
		return req, ErrOriginRefused
	case f.origins == 1 && !u.Origins.Allowed(f.origin, f.host):
		return req, ErrOriginRefused
	}
	req.Target = TargetUpgrade
	computeAccept(&req.Accept, f.key)
	return req, nil
}

// parseRequestLine splits "METHOD SP request-target SP HTTP/1.x". Only
// origin-form targets ("/path?query") are served.
func parseRequestLine(line []byte) (method, target []byte, http11 bool, err error) {
	method, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(method) == 0 || !allTokenChars(method) {
		return nil, nil, false, ErrMalformedRequest
	}
	target, version, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(target) == 0 || target[0] != '/' {
		return nil, nil, false, ErrMalformedRequest
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7F {
			return nil, nil, false, ErrMalformedRequest
		}
	}
	switch string(version) {
	case "HTTP/1.1":
		return method, target, true, nil
	case "HTTP/1.0":
		return method, target, false, nil
	}
	if len(version) == 8 && string(version[:5]) == "HTTP/" && isDigit(version[5]) && version[6] == '.' && isDigit(version[7]) {
		return nil, nil, false, ErrHTTPVersion // HTTP/2.0 and the like: well-formed, not served
	}
	return nil, nil, false, ErrMalformedRequest
}

// add takes one header line "name: value".
func (f *headFields) add(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !allTokenChars(line[:colon]) { // also refuses a folded line (leading space)
		return ErrMalformedRequest
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7F {
			return ErrMalformedRequest
		}
	}
	switch {
	case equalFoldLower(name, "host"):
		f.host, f.hosts = value, f.hosts+1
	case equalFoldLower(name, "upgrade"):
		f.upgradeWebSocket = f.upgradeWebSocket || hasToken(value, "websocket")
	case equalFoldLower(name, "connection"):
		f.connectionUpgrade = f.connectionUpgrade || hasToken(value, "upgrade")
	case equalFoldLower(name, "sec-websocket-key"):
		f.key, f.keys = value, f.keys+1
	case equalFoldLower(name, "sec-websocket-version"):
		f.version, f.versions = value, f.versions+1
	case equalFoldLower(name, "origin"):
		f.origin, f.origins = value, f.origins+1
	case equalFoldLower(name, "content-length"):
		f.body = f.body || string(value) != "0"
	case equalFoldLower(name, "transfer-encoding"):
		f.body = true
	}
	return nil
}

// validKey reports whether key is base64 (with its padding) of 16 bytes,
// the only form RFC 6455 4.1 allows for Sec-WebSocket-Key.
func validKey(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Strict().Decode(raw[:], key)
	return err == nil && n == 16
}

// websocketGUID is the constant RFC 6455 1.3 appends to the key.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// computeAccept writes base64(SHA-1(key + GUID)) into dst; key is 24 bytes.
func computeAccept(dst *[28]byte, key []byte) {
	var in [24 + len(websocketGUID)]byte
	copy(in[copy(in[:], key):], websocketGUID)
	sum := sha1.Sum(in[:])
	base64.StdEncoding.Encode(dst[:], sum[:])
}

// AcceptKey returns the Sec-WebSocket-Accept a server answers for key
// (RFC 6455 4.2.2); for clients and tests.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// hasToken reports whether the comma-separated list holds token, compared
// without regard to case (Connection: keep-alive, Upgrade).
func hasToken(list []byte, token string) bool {
	for len(list) > 0 {
		var item []byte
		item, list, _ = bytes.Cut(list, []byte{','})
		if equalFoldLower(trimOWS(item), token) {
			return true
		}
	}
	return false
}

func cutCRLF(b []byte) (line, rest []byte) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+2:]
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldLower compares b with lower, an ASCII lower-case string,
// without regard to ASCII case.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110 5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func allTokenChars(b []byte) bool {
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}
