package server

import (
	"slices"
	"strings"
	"time"

	"github.com/fanout/fanout/internal/ws"
)

// The WebSocket listener's settings: fields of Config (config.go keeps the
// rest), their defaults and their checks, kept here so that the listener
// is one file to read.

// Defaults for the WebSocket fields left at their zero value.
const (
	// DefaultWSPing is how long a WebSocket client may be silent before the
	// server pings it, and then how long it has to answer.
	DefaultWSPing = 30 * time.Second
	// DefaultWSHandshakeTimeout bounds a WebSocket handshake (or the page's
	// request) from the moment the connection is accepted.
	DefaultWSHandshakeTimeout = 5 * time.Second
	// DefaultWSMaxHeader bounds a request's head on the WebSocket listener.
	DefaultWSMaxHeader = ws.DefaultMaxHeaderBytes
)

// Limits on the WebSocket fields.
const (
	minWSPing             = 50 * time.Millisecond
	maxWSPing             = time.Hour
	minWSHandshakeTimeout = 10 * time.Millisecond
	maxWSHandshakeTimeout = 10 * time.Minute
	minWSMaxHeader        = 1 << 10  // a browser's handshake is about 500 bytes
	maxWSMaxHeader        = 64 << 10 // past this it is not a handshake
)

// WSConfig is the WebSocket listener's part of Config (embedded in it).
type WSConfig struct {
	// WSAddr is the WebSocket listener's address, in Addr's syntax
	// (host:port or unix:///path, several comma-separated). It is served by
	// the same event loops as Addr: GET /ws upgrades to WebSocket (RFC 6455,
	// version 13) and joins the same broadcast, GET / serves the page.
	// With ProxyProtocol its listeners expect a PROXY header too. Empty
	// (default): no WebSocket listener.
	WSAddr string
	// WSOrigin is the comma-separated allow-list of origins
	// (scheme://host[:port]) whose pages may open a WebSocket, or "*" for
	// any. Empty (default): same host only (the Origin's host and port
	// equal the Host header's). A request without Origin (not a browser) is
	// always allowed; a refused one gets 403.
	WSOrigin string
	// WSPing: a WebSocket client silent this long is pinged, and closed
	// (reason "ws_no_pong") when nothing comes back within as long again.
	// Default 30s; 50ms..1h.
	WSPing time.Duration
	// WSHandshakeTimeout bounds the handshake from accept (after the PROXY
	// header, if any): a client that has not completed it by then is
	// closed (reason "ws_handshake"). Default 5s; 10ms..10m.
	WSHandshakeTimeout time.Duration
	// WSMaxHeader bounds the request line and headers of a handshake, in
	// bytes; a longer head gets 431. Default 8 KiB; 1 KiB..64 KiB.
	WSMaxHeader int
}

// wsDefaults fills the zero WebSocket fields.
func (c *WSConfig) wsDefaults() {
	if c.WSPing == 0 {
		c.WSPing = DefaultWSPing
	}
	if c.WSHandshakeTimeout == 0 {
		c.WSHandshakeTimeout = DefaultWSHandshakeTimeout
	}
	if c.WSMaxHeader == 0 {
		c.WSMaxHeader = DefaultWSMaxHeader
	}
}

// validateWS checks the WebSocket settings (listenSpecs checks WSAddr).
func (c Config) validateWS() error {
	switch {
	case c.WSOrigin != "" && c.WSAddr == "":
		return bad(flagWSOrigin, "needs --ws-addr: it says whose pages may open a WebSocket on that listener")
	case c.WSPing < minWSPing || c.WSPing > maxWSPing:
		return bad(flagWSPing, "must be %s..%s, got %s", minWSPing, maxWSPing, c.WSPing)
	case c.WSHandshakeTimeout < minWSHandshakeTimeout || c.WSHandshakeTimeout > maxWSHandshakeTimeout:
		return bad(flagWSHandshakeTimeout, "must be %s..%s, got %s", minWSHandshakeTimeout, maxWSHandshakeTimeout, c.WSHandshakeTimeout)
	case c.WSMaxHeader < minWSMaxHeader || c.WSMaxHeader > maxWSMaxHeader:
		return bad(flagWSMaxHeader, "must be %d..%d bytes, got %d", minWSMaxHeader, maxWSMaxHeader, c.WSMaxHeader)
	}
	if _, err := ws.ParseOriginPolicy(c.WSOrigin); err != nil {
		return bad(flagWSOrigin, "%v", err)
	}
	return nil
}

// withWSSpecs adds WSAddr's listeners (PROXY listeners with
// ProxyProtocol) to the line listeners in specs.
func (c Config) withWSSpecs(specs []listenSpec) ([]listenSpec, error) {
	if c.WSAddr == "" {
		return specs, nil
	}
	wsSpecs, err := parseListenList(flagWSAddr, c.WSAddr, c.ProxyProtocol)
	if err != nil {
		return nil, err
	}
	for _, w := range wsSpecs {
		// Port 0 picks a free port for each listener: no clash.
		if !strings.HasSuffix(w.address, ":0") && slices.ContainsFunc(specs, func(l listenSpec) bool { return l.protoAddr() == w.protoAddr() }) {
			return nil, bad(flagWSAddr, "%q is also a line listener: give the WebSocket listener an address of its own", w.address)
		}
		w.ws = true
		specs = append(specs, w)
	}
	return specs, nil
}

// upgrader builds the handshake parser the settings describe (validated).
func (c Config) upgrader() *ws.Upgrader {
	origins, _ := ws.ParseOriginPolicy(c.WSOrigin)
	return &ws.Upgrader{MaxHeaderBytes: c.WSMaxHeader, Origins: origins}
}
