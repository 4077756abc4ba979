package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/pires/go-proxyproto"
)

// PROXY protocol framing (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt).
// This file only decides how many bytes the header takes and whether they
// have all arrived; go-proxyproto parses and validates them.
const (
	// maxProxyV1Header is v1's own limit, CRLF included.
	maxProxyV1Header = 107
	// proxyV2Fixed is v2's fixed part: 12-byte signature, version and
	// command, family and transport, 2-byte length of what follows.
	proxyV2Fixed = 16
	// maxProxyHeader bounds a v2 header, TLVs included. The protocol allows
	// 16+65535 bytes; what proxies send (addresses, a few TLVs such as
	// haproxy's SSL details or a cloud endpoint ID) is a few hundred.
	maxProxyHeader = 4096
)

var (
	// errProxyHeaderIncomplete: the bytes so far are the start of a header;
	// wait for more.
	errProxyHeaderIncomplete = errors.New("server: PROXY header incomplete")
	// errNoProxyHeader: the connection did not begin with a PROXY signature.
	errNoProxyHeader = errors.New("server: no PROXY header (the connection must begin with one)")
	// errProxyHeaderTooLarge: past v1's 107 bytes or maxProxyHeader.
	errProxyHeaderTooLarge = fmt.Errorf("server: PROXY header larger than allowed (v1: %d bytes, v2: %d)",
		maxProxyV1Header, maxProxyHeader)
)

var proxyV1Signature = []byte("PROXY ")

// proxyHeaderLen reports how long the header at the start of buf is, once
// all of it has arrived: errProxyHeaderIncomplete while buf is still a
// prefix of one, errNoProxyHeader or errProxyHeaderTooLarge when buf
// cannot begin a header that fanout takes.
func proxyHeaderLen(buf []byte) (int, error) {
	switch {
	case isPrefixOf(buf, proxyV1Signature):
		if len(buf) < len(proxyV1Signature) {
			return 0, errProxyHeaderIncomplete
		}
		if i := bytes.IndexByte(buf[:min(len(buf), maxProxyV1Header)], '\n'); i >= 0 {
			return i + 1, nil
		}
		if len(buf) >= maxProxyV1Header {
			return 0, errProxyHeaderTooLarge
		}
		return 0, errProxyHeaderIncomplete
	case isPrefixOf(buf, proxyproto.SIGV2):
		if len(buf) < proxyV2Fixed {
			return 0, errProxyHeaderIncomplete
		}
		n := proxyV2Fixed + int(binary.BigEndian.Uint16(buf[14:16]))
		if n > maxProxyHeader {
			return 0, errProxyHeaderTooLarge
		}
		if len(buf) < n {
			return 0, errProxyHeaderIncomplete
		}
		return n, nil
	}
	return 0, errNoProxyHeader
}

// isPrefixOf reports whether buf and sig agree on their common length.
func isPrefixOf(buf, sig []byte) bool {
	n := min(len(buf), len(sig))
	return bytes.Equal(buf[:n], sig[:n])
}

// parseProxyHeader parses the PROXY header at the start of buf. It returns
// the header's length and the client address it carries: nil for PROXY
// UNKNOWN and v2 LOCAL (connections the proxy makes itself) and for an
// AF_UNIX source, whose socket address stands. While buf holds only part of a header the error is
// errProxyHeaderIncomplete. buf is not retained.
func parseProxyHeader(buf []byte) (src net.Addr, n int, err error) {
	n, err = proxyHeaderLen(buf)
	if err != nil {
		return nil, 0, err
	}
	// The header is whole, so the parser reads it from memory and never
	// waits. Its buffer holds the whole header: the v1 parser wants it
	// buffered at once.
	r := bufio.NewReaderSize(bytes.NewReader(buf[:n]), n)
	h, err := proxyproto.Read(r)
	if err != nil {
		return nil, 0, fmt.Errorf("server: bad PROXY header: %w", err)
	}
	if r.Buffered() != 0 {
		return nil, 0, fmt.Errorf("server: bad PROXY header: %d bytes left inside it", r.Buffered())
	}
	// go-proxyproto keeps v2's TLVs as they came; splitting them checks
	// that no TLV claims more bytes than the header holds.
	if _, err := h.TLVs(); err != nil {
		return nil, 0, fmt.Errorf("server: bad PROXY header: %w", err)
	}
	if h.Command.IsLocal() {
		return nil, n, nil
	}
	if !h.TransportProtocol.IsStream() {
		return nil, 0, fmt.Errorf("server: bad PROXY header: transport %#x is not a stream", byte(h.TransportProtocol))
	}
	if h.TransportProtocol.IsUnix() {
		// A client on a unix socket of the proxy has no IP to count for
		// --max-conns-per-ip, and its path is whatever the peer bound:
		// the connection keeps the socket's address (the proxy's), under
		// which it is counted, as for LOCAL and UNKNOWN.
		return nil, n, nil
	}
	return h.SourceAddr, n, nil
}
