package ws

import (
	"bytes"
	"fmt"
	"strings"
)

// OriginPolicy decides which pages may open a WebSocket, from the Origin
// header a browser sends with the handshake. A request without Origin is
// not from a browser page (a command-line client, a program) and is never
// refused by the policy: the Origin check protects browser users' sessions
// from other sites' pages, not the server from clients.
//
// The zero value allows the same host only: the Origin's host and port
// (the scheme's default port when it names none) must equal the Host
// header's, so a page served by this listener, directly or through a
// proxy that keeps Host, may connect. [ParseOriginPolicy] builds an
// allow-list instead. An Origin of "null" (sandboxed frames, file: pages)
// is refused unless the policy allows any origin. Read-only once built;
// safe for concurrent use.
type OriginPolicy struct {
	any     bool     // "*": every origin
	allowed []origin // the allow-list; empty: same host only
}

// origin is an Origin in canonical form.
type origin struct {
	scheme string // "http" or "https"
	host   string // lower case; an IPv6 address keeps its brackets
	port   uint16 // explicit, the scheme's default filled in
}

// ParseOriginPolicy reads a comma-separated allow-list, the form of
// --ws-origin: each entry an origin "scheme://host[:port]" with scheme
// http or https and no path, compared without regard to case and with
// default ports filled in; or "*" alone, which allows every origin (and
// turns the check off). An empty list is the same-host policy.
func ParseOriginPolicy(list string) (OriginPolicy, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return OriginPolicy{}, nil
	}
	if list == "*" {
		return OriginPolicy{any: true}, nil
	}
	var p OriginPolicy
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		scheme, host, port, ok := parseOrigin([]byte(entry))
		if !ok {
			return OriginPolicy{}, fmt.Errorf("ws: origin %q: want scheme://host[:port] with scheme http or https and no path, or * alone", entry)
		}
		p.allowed = append(p.allowed, origin{scheme: scheme, host: strings.ToLower(string(host)), port: port})
	}
	return p, nil
}

// String describes the policy for a log line.
func (p OriginPolicy) String() string {
	switch {
	case p.any:
		return "any origin"
	case len(p.allowed) == 0:
		return "same host"
	}
	var b strings.Builder
	for i, o := range p.allowed {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s://%s:%d", o.scheme, o.host, o.port)
	}
	return b.String()
}

// Allowed reports whether a page of originHeader may connect to this
// listener, reached as hostHeader (the request's Host). Allocates nothing.
func (p *OriginPolicy) Allowed(originHeader, hostHeader []byte) bool {
	if p.any {
		return true
	}
	scheme, host, port, ok := parseOrigin(originHeader)
	if !ok {
		return false
	}
	if len(p.allowed) > 0 {
		for _, a := range p.allowed {
			if a.scheme == scheme && a.port == port && equalFoldLower(host, a.host) {
				return true
			}
		}
		return false
	}
	reached, reachedPort, ok := splitHostPort(hostHeader, port)
	return ok && reachedPort == port && bytes.EqualFold(reached, host)
}

// parseOrigin reads "scheme://host[:port]" (RFC 6454 serialisation); the
// scheme comes back in lower case, host as written (it aliases b) and the
// port with the scheme's default filled in.
func parseOrigin(b []byte) (scheme string, host []byte, port uint16, ok bool) {
	var def uint16
	switch {
	case len(b) > 7 && equalFoldLower(b[:7], "http://"):
		scheme, def, b = "http", 80, b[7:]
	case len(b) > 8 && equalFoldLower(b[:8], "https://"):
		scheme, def, b = "https", 443, b[8:]
	default:
		return "", nil, 0, false
	}
	host, port, ok = splitHostPort(b, def)
	return scheme, host, port, ok
}

// splitHostPort reads "host[:port]" as in a Host header or an origin: a
// DNS name or IPv4 address of letters, digits, '-', '.', '_', or an IPv6
// address in brackets; the port 1-65535 in at most five digits, def when
// absent.
func splitHostPort(b []byte, def uint16) (host []byte, port uint16, ok bool) {
	var portPart []byte
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 2 {
			return nil, 0, false
		}
		host = b[:end+1]
		for _, c := range host[1:end] {
			if !isHexDigit(c) && c != ':' && c != '.' {
				return nil, 0, false
			}
		}
		switch rest := b[end+1:]; {
		case len(rest) == 0:
		case rest[0] == ':':
			portPart = rest[1:]
			if len(portPart) == 0 {
				return nil, 0, false
			}
		default:
			return nil, 0, false
		}
	} else {
		host = b
		if i := bytes.IndexByte(b, ':'); i >= 0 {
			host, portPart = b[:i], b[i+1:]
			if len(portPart) == 0 {
				return nil, 0, false
			}
		}
		if len(host) == 0 {
			return nil, 0, false
		}
		for _, c := range host {
			if !isDigit(c) && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && c != '-' && c != '.' && c != '_' {
				return nil, 0, false
			}
		}
	}
	if portPart == nil {
		return host, def, true
	}
	if len(portPart) > 5 {
		return nil, 0, false
	}
	n := 0
	for _, c := range portPart {
		if !isDigit(c) {
			return nil, 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > 65535 {
		return nil, 0, false
	}
	return host, uint16(n), true
}

func isHexDigit(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
