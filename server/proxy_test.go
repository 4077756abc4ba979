package server

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// startProxyServer runs a server whose first listener expects PROXY
// headers and whose second is direct; it returns both addresses.
func startProxyServer(t *testing.T, cfg Config) (s *Server, logs interface{ String() string }, proxyAddr, directAddr string) {
	t.Helper()
	cfg.ProxyProtocol = true
	cfg.DirectAddr = "127.0.0.2:0" // not 127.0.0.1:0, which --addr has: listeners need addresses of their own
	cfg.MetricsAddr = "127.0.0.1:0"
	s, buf := startServer(t, cfg)
	return s, buf, s.Addrs()[0].String(), s.Addrs()[1].String()
}

// dialAddr connects to addr from local (nil: any).
func dialAddr(t *testing.T, addr string, local *net.TCPAddr) *testClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &testClient{t: t, conn: c.(*net.TCPConn), r: newReader(c)}
}

// connRemotes returns remote -> via for every connection in /connz.
func connRemotes(t *testing.T, s *Server) map[string]string {
	t.Helper()
	_, v := control(t, s, "GET", "/connz", "")
	out := map[string]string{}
	conns, _ := v["connections"].([]any)
	for _, c := range conns {
		m := c.(map[string]any)
		via, _ := m["via"].(string)
		out[m["remote"].(string)] = via
	}
	return out
}

// TestProxyHeaderNamesTheClient: through the PROXY listener the header's
// address is the client's (in /connz, with the proxy as via), a line sent
// with the header in one write or after a header split over several is
// relayed, lines flow both ways with a direct client, and a connection
// still waiting for its header receives nothing.
func TestProxyHeaderNamesTheClient(t *testing.T) {
	cases := []struct {
		name    string
		version byte
		split   int // write the header in two parts, split here; 0: header and line in one write
	}{
		{name: "v1 with the line in the same write", version: 1},
		{name: "v2 with the line in the same write", version: 2},
		{name: "v1 split", version: 1, split: 7},
		{name: "v2 split inside the signature", version: 2, split: 5},
		{name: "v2 split inside the addresses", version: 2, split: 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, proxyAddr, directAddr := startProxyServer(t, Config{})
			direct := dialAddr(t, directAddr, nil)
			waitOpen(t, s, 1)
			waiting := dialAddr(t, proxyAddr, nil) // never sends its header
			proxied := dialAddr(t, proxyAddr, nil)
			hdr := proxyHeader(t, tc.version, "203.0.113.7:4242", proxyAddr)
			if tc.split == 0 {
				proxied.send(string(hdr) + "hello\n")
			} else {
				proxied.send(string(hdr[:tc.split]))
				direct.expectNothing(30 * time.Millisecond) // let the server read the first part alone
				proxied.send(string(hdr[tc.split:]) + "hello\n")
			}
			if got := direct.mustReadLine(); !strings.HasSuffix(got, ":hello") {
				t.Fatalf("direct client got %q", got)
			}
			direct.send("back\n")
			if got := proxied.mustReadLine(); !strings.HasSuffix(got, ":back") {
				t.Fatalf("proxied client got %q", got)
			}
			waiting.expectNothing(30 * time.Millisecond)
			remotes := connRemotes(t, s)
			if via, ok := remotes["203.0.113.7:4242"]; !ok || via != proxied.conn.LocalAddr().String() {
				t.Errorf("/connz remotes %v: want 203.0.113.7:4242 via %s", remotes, proxied.conn.LocalAddr())
			}
			if len(remotes) != 2 {
				t.Errorf("/connz lists %d connections, want 2 (not the one waiting for its header)", len(remotes))
			}
		})
	}
}

// TestProxyHeaderRefusals: each way a PROXY connection can fail gets
// "ERR bad proxy header", a log line and the proxy_header count, and a
// direct client carries on.
func TestProxyHeaderRefusals(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		send    string
		wantLog string
	}{
		{name: "a plain line", send: "hello\n", wantLog: "bad PROXY header"},
		{name: "garbage after the v1 signature", send: "PROXY TCP4 not an address\r\n", wantLog: "bad PROXY header"},
		{name: "v1 without CRLF past 107 bytes", send: "PROXY TCP4 " + strings.Repeat("9", 150), wantLog: "larger than allowed"},
		{name: "v2 past the size limit", send: string(proxyV2Sized(5000)[:64]), wantLog: "larger than allowed"},
		{name: "nothing in time", cfg: Config{ProxyHeaderTimeout: 50 * time.Millisecond}, wantLog: "no PROXY header in time"},
		{name: "half a header in time", cfg: Config{ProxyHeaderTimeout: 50 * time.Millisecond}, send: "PROXY TCP4 1.2", wantLog: "no PROXY header in time"},
		{name: "a source outside --proxy-from", cfg: Config{ProxyFrom: "10.0.0.0/8, 192.0.2.1"}, wantLog: "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, logs, proxyAddr, directAddr := startProxyServer(t, tc.cfg)
			a, b := dialAddr(t, directAddr, nil), dialAddr(t, directAddr, nil)
			bad := dialAddr(t, proxyAddr, nil)
			if tc.send != "" {
				bad.send(tc.send)
			}
			if got := bad.expectClosed(); got != "ERR bad proxy header\r\n" {
				t.Fatalf("got %q, want the ERR line then EOF", got)
			}
			waitFor(t, "the proxy_header count", func() bool { return s.closed[ReasonProxyHeader].Load() == 1 })
			if !strings.Contains(logs.String(), tc.wantLog) || !strings.Contains(logs.String(), "reason=proxy_header") {
				t.Errorf("logs lack %q with reason=proxy_header:\n%s", tc.wantLog, logs)
			}
			waitFor(t, "both direct clients to join", func() bool { return s.Connections() == 2 })
			a.send("still here\n")
			if got := b.mustReadLine(); !strings.HasSuffix(got, ":still here") {
				t.Fatalf("direct client got %q", got)
			}
			if got := value(t, scrape(t, s), "fanout_connections_closed_total", "reason", "proxy_header"); got != 1 {
				t.Errorf("fanout_connections_closed_total{reason=proxy_header} = %v, want 1", got)
			}
		})
	}
}

// TestProxyLocalKeepsSocketAddress: PROXY UNKNOWN and v2 LOCAL (a proxy's
// own health checks) are accepted, under the socket's address.
func TestProxyLocalKeepsSocketAddress(t *testing.T) {
	cases := []struct {
		name   string
		header []byte
	}{
		{name: "v1 UNKNOWN", header: []byte("PROXY UNKNOWN\r\n")},
		{name: "v2 LOCAL", header: proxyV2Local()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, proxyAddr, directAddr := startProxyServer(t, Config{})
			direct := dialAddr(t, directAddr, nil)
			waitOpen(t, s, 1)
			c := dialAddr(t, proxyAddr, nil)
			c.send(string(tc.header) + "ping\n")
			if got := direct.mustReadLine(); !strings.HasSuffix(got, ":ping") {
				t.Fatalf("direct client got %q", got)
			}
			remotes := connRemotes(t, s)
			if via, ok := remotes[c.conn.LocalAddr().String()]; !ok || via != "" {
				t.Errorf("/connz remotes %v: want %s with no via", remotes, c.conn.LocalAddr())
			}
		})
	}
}

// TestProxyPerIPLimitCountsClients: with a proxy in front, the per-IP limit
// counts the addresses in the headers, not the proxy's, and gives the slot
// back to the right address at close.
func TestProxyPerIPLimitCountsClients(t *testing.T) {
	s, logs, proxyAddr, directAddr := startProxyServer(t, Config{MaxConnsPerIP: 1})
	from := func(src string) *testClient {
		c := dialAddr(t, proxyAddr, nil) // every one from the proxy's 127.0.0.1
		c.send(string(proxyHeader(t, 2, src, proxyAddr)))
		return c
	}
	a1 := from("198.51.100.1:1000")
	waitOpen(t, s, 1)
	from("198.51.100.2:1000")
	waitOpen(t, s, 2)
	direct := dialAddr(t, directAddr, nil) // the proxy's own address has its slot too
	waitOpen(t, s, 3)
	a2 := from("198.51.100.1:1001")
	if got := a2.expectClosed(); got != "ERR too many connections\r\n" {
		t.Fatalf("second client from 198.51.100.1 got %q", got)
	}
	waitFor(t, "the refusal's log line", func() bool {
		return strings.Contains(logs.String(), "remote=198.51.100.1:1001") && strings.Contains(logs.String(), "reason=too_many_conns")
	})
	_ = a1.conn.Close()
	waitOpen(t, s, 2)
	a3 := from("198.51.100.1:1002") // its slot is free again
	waitOpen(t, s, 3)
	direct.send("hi\n")
	if got := a3.mustReadLine(); !strings.HasSuffix(got, ":hi") {
		t.Fatalf("got %q", got)
	}
}

// TestProxyUnixSourceCountsUnderTheProxy: a PROXY v2 header naming a
// client on a unix socket of the proxy (which has no IP) keeps the
// socket's address, so the per-IP limit counts it under the proxy's IP
// instead of not at all, and the path it carries (control characters and
// all) reaches neither the log nor /connz.
func TestProxyUnixSourceCountsUnderTheProxy(t *testing.T) {
	s, logs, proxyAddr, _ := startProxyServer(t, Config{MaxConnsPerIP: 1})
	evil := "\x1b[2J\ninjected=1"
	first := dialAddr(t, proxyAddr, &net.TCPAddr{IP: net.ParseIP("127.0.0.3")})
	first.send(string(proxyV2Unix(evil)))
	waitOpen(t, s, 1)
	second := dialAddr(t, proxyAddr, &net.TCPAddr{IP: net.ParseIP("127.0.0.3")})
	second.send(string(proxyV2Unix("/tmp/another")))
	if got := second.expectClosed(); got != "ERR too many connections\r\n" {
		t.Fatalf("second unix-sourced client through the same proxy got %q", got)
	}
	remotes := connRemotes(t, s)
	if len(remotes) != 1 {
		t.Fatalf("/connz: %v", remotes)
	}
	for remote := range remotes {
		if !strings.HasPrefix(remote, "127.0.0.3:") {
			t.Errorf("remote = %q, want the proxy's socket address", remote)
		}
	}
	if strings.Contains(logs.String(), "injected") || strings.Contains(logs.String(), "\x1b") {
		t.Errorf("the unix path reached the log:\n%s", logs.String())
	}
	_ = first
}

// TestAllListenersExpectHeaders: without --direct-addr every listener,
// unix sockets too, expects the header.
func TestAllListenersExpectHeaders(t *testing.T) {
	sock := t.TempDir() + "/fanout.sock"
	s, _ := startServer(t, Config{Addr: "127.0.0.1:0,unix://" + sock, ProxyProtocol: true})
	tcp := dialAddr(t, s.Addrs()[0].String(), nil)
	tcp.send(string(proxyHeader(t, 1, "192.0.2.5:5", "192.0.2.1:1")))
	waitOpen(t, s, 1)
	uc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uc.Close() })
	if _, err := uc.Write(append(proxyHeader(t, 2, "192.0.2.6:6", "192.0.2.1:1"), "via unix\n"...)); err != nil {
		t.Fatal(err)
	}
	if got := tcp.mustReadLine(); !strings.HasSuffix(got, ":via unix") {
		t.Fatalf("got %q", got)
	}
	plain := dialAddr(t, s.Addrs()[0].String(), nil)
	plain.send("no header\n")
	if got := plain.expectClosed(); got != "ERR bad proxy header\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestProxyConfig(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		wantFlag string // "" when valid
	}{
		{name: "proxy with direct listeners", cfg: Config{ProxyProtocol: true, DirectAddr: "127.0.0.1:0,unix:///run/x.sock"}},
		{name: "trusted CIDRs and IPs", cfg: Config{ProxyProtocol: true, ProxyFrom: "10.0.0.0/8, 192.0.2.1,2001:db8::/32"}},
		{name: "direct without proxy", cfg: Config{DirectAddr: "127.0.0.1:0"}, wantFlag: "--direct-addr"},
		{name: "bad direct address", cfg: Config{ProxyProtocol: true, DirectAddr: "9000"}, wantFlag: "--direct-addr"},
		{name: "relative direct socket", cfg: Config{ProxyProtocol: true, DirectAddr: "unix://x.sock"}, wantFlag: "--direct-addr"},
		{name: "trust without proxy", cfg: Config{ProxyFrom: "10.0.0.0/8"}, wantFlag: "--proxy-from"},
		{name: "bad CIDR", cfg: Config{ProxyProtocol: true, ProxyFrom: "10.0.0.0/33"}, wantFlag: "--proxy-from"},
		{name: "a host name", cfg: Config{ProxyProtocol: true, ProxyFrom: "lb.example.com"}, wantFlag: "--proxy-from"},
		{name: "timeout too short", cfg: Config{ProxyProtocol: true, ProxyHeaderTimeout: time.Millisecond}, wantFlag: "--proxy-header-timeout"},
		{name: "negative timeout", cfg: Config{ProxyProtocol: true, ProxyHeaderTimeout: -time.Second}, wantFlag: "--proxy-header-timeout"},
		{name: "a listener twice", cfg: Config{Addr: "127.0.0.1:0,127.0.0.1:0"}, wantFlag: "--addr"},
		{name: "a listener both ways", cfg: Config{ProxyProtocol: true, Addr: "127.0.0.1:0", DirectAddr: "127.0.0.1:0"}, wantFlag: "--direct-addr"},
		{name: "reuseport needs fixed direct ports", cfg: Config{Addr: ":8888", ReusePort: true, ProxyProtocol: true, DirectAddr: "127.0.0.1:0"}, wantFlag: "--reuseport"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.withDefaults().Validate()
			var ce *ConfigError
			switch {
			case tc.wantFlag == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantFlag != "" && (!errors.As(err, &ce) || ce.Flag != tc.wantFlag):
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.wantFlag)
			}
		})
	}
}
