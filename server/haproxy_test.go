package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fanout/fanout/internal/testutil"
)

// TestTLSThroughHAProxy puts a real TLS terminator in front of fanout:
// haproxy takes TLS clients (a certificate made here) and forwards them
// with send-proxy-v2 to fanout's PROXY listener; a plain client talks to
// fanout's direct listener. Lines flow both ways, and --max-conns-per-ip
// counts the TLS clients' own addresses (127.0.0.2 and 127.0.0.3), not
// haproxy's. Skipped outside CI when haproxy is not installed.
func TestTLSThroughHAProxy(t *testing.T) {
	haproxy := lookHAProxy(t)
	dir := t.TempDir()
	certFile, roots := writeTestCert(t, dir)

	s, _ := startServer(t, Config{Addr: "127.0.0.1:0", ProxyProtocol: true, DirectAddr: "127.0.0.2:0",
		MaxConnsPerIP: 1, MetricsAddr: "127.0.0.1:0"})
	frontend := startHAProxy(t, haproxy, dir, certFile, s.Addrs()[0].String())

	tlsFrom := func(src string) *testClient {
		t.Helper()
		d := tls.Dialer{
			NetDialer: &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}},
			Config:    &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12},
		}
		c, err := d.Dial("tcp", frontend)
		if err != nil {
			t.Fatalf("TLS dial from %s: %v", src, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return &testClient{t: t, conn: c.(*tls.Conn).NetConn().(*net.TCPConn), r: newReader(c), w: c}
	}

	plain := dialAddr(t, s.Addrs()[1].String(), &net.TCPAddr{IP: net.ParseIP("127.0.0.1")})
	waitOpen(t, s, 1)
	a := tlsFrom("127.0.0.2")
	waitOpen(t, s, 2)
	b := tlsFrom("127.0.0.3") // another client address: its own slot, though haproxy's address is the same
	waitOpen(t, s, 3)

	a.send("over tls\n")
	for _, c := range []*testClient{plain, b} {
		if got := c.mustReadLine(); !strings.HasSuffix(got, ":over tls") {
			t.Fatalf("got %q, want a's line", got)
		}
	}
	plain.send("over plain tcp\n")
	for _, c := range []*testClient{a, b} {
		if got := c.mustReadLine(); !strings.HasSuffix(got, ":over plain tcp") {
			t.Fatalf("TLS client got %q, want the plain client's line", got)
		}
	}

	remotes := connRemotes(t, s)
	for _, c := range []*testClient{a, b} {
		// haproxy's header carries the client's address as haproxy saw it.
		if via, ok := remotes[c.conn.LocalAddr().String()]; !ok || via == "" {
			t.Errorf("/connz %v lacks %s via haproxy", remotes, c.conn.LocalAddr())
		}
	}

	again := tlsFrom("127.0.0.2") // past --max-conns-per-ip for 127.0.0.2 alone
	if got := again.expectClosed(); got != "ERR too many connections\r\n" {
		t.Fatalf("second TLS client from 127.0.0.2 got %q", got)
	}
	if n := s.closed[ReasonTooManyConns].Load(); n != 1 {
		t.Errorf("too_many_conns closes = %d, want 1", n)
	}
	if n := s.closed[ReasonProxyHeader].Load(); n != 0 {
		t.Errorf("proxy_header closes = %d, want 0: haproxy's headers are good", n)
	}
}

// TestDeployHAProxyConfigIsValid: the documented deploy/haproxy.cfg is
// one haproxy accepts (haproxy -c), with a certificate made here.
func TestDeployHAProxyConfigIsValid(t *testing.T) {
	haproxy := lookHAProxy(t)
	dir := t.TempDir()
	certFile, _ := writeTestCert(t, dir)
	cfg, err := os.ReadFile("../deploy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	const documented = "/etc/haproxy/certs/fanout.pem"
	if !bytes.Contains(cfg, []byte(documented)) {
		t.Fatalf("deploy/haproxy.cfg no longer names %s; update this test", documented)
	}
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, bytes.ReplaceAll(cfg, []byte(documented), []byte(certFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}

// lookHAProxy finds haproxy: CI must have it (.ci/run installs it),
// elsewhere the test skips without it.
func lookHAProxy(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err == nil {
		return path
	}
	if _, statErr := os.Stat("/usr/sbin/haproxy"); statErr == nil {
		return "/usr/sbin/haproxy" // Debian's place, off an unprivileged user's PATH
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("haproxy not found, and CI is set: .ci/run installs it (apt-get install haproxy): %v", err)
	}
	t.Skip("haproxy is not installed (apt-get install haproxy); skipping the TLS-terminator test")
	return ""
}

// writeTestCert writes a self-signed certificate for localhost and
// 127.0.0.1, with its key, as the one PEM file haproxy's "crt" takes, and
// returns the file and a pool that trusts the certificate.
func writeTestCert(t *testing.T, dir string) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var pemBytes bytes.Buffer
	_ = pem.Encode(&pemBytes, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&pemBytes, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	file := filepath.Join(dir, "fanout.pem")
	if err := os.WriteFile(file, pemBytes.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return file, roots
}

// haproxyConfig is the smallest haproxy configuration that terminates TLS
// and forwards with a PROXY v2 header (deploy/haproxy.cfg is the
// documented one).
const haproxyConfig = `global
    maxconn 256
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend tls
    bind %s ssl crt %s
    default_backend fanout
backend fanout
    server fanout %s send-proxy-v2
`

// startHAProxy runs haproxy in the foreground on a free port of 127.0.0.1
// in front of backend, waits until it accepts, and stops it when the test
// ends. It returns the TLS frontend's address. Another process may take
// the free port before haproxy binds it: then it tries another, 3 times.
func startHAProxy(t *testing.T, haproxy, dir, certFile, backend string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		frontend := freePort(t)
		cfgFile := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(haproxyConfig, frontend, certFile, backend)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(haproxy, "-db", "-f", cfgFile) // -db: foreground, logs to stderr
		out := &testutil.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start haproxy: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill() // the process this test started, by its PID
			<-exited
		})
		var (
			exitErr error
			gone    bool // haproxy exited instead of listening
		)
		waitFor(t, "haproxy to listen on "+frontend, func() bool {
			select {
			case exitErr = <-exited:
				exited <- exitErr // for the cleanup
				gone = true
				return true
			default:
			}
			c, err := net.DialTimeout("tcp", frontend, time.Second)
			if err != nil {
				return false
			}
			_ = c.Close()
			return true
		})
		if !gone {
			return frontend
		}
		if attempt == 3 || !strings.Contains(out.String(), "cannot bind") {
			t.Fatalf("haproxy exited: %v\n%s", exitErr, out.String())
		}
	}
}

// freePort returns a 127.0.0.1 address with a port free right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestWSSThroughHAProxy: haproxy terminates wss:// and forwards to the
// WebSocket listener with a PROXY v2 header (--proxy-protocol applies to
// it); a wss client and a plain TCP client see each other's lines, and
// the wss client's own address (127.0.0.2) is the one fanout sees.
func TestWSSThroughHAProxy(t *testing.T) {
	haproxy := lookHAProxy(t)
	dir := t.TempDir()
	certFile, roots := writeTestCert(t, dir)
	s, _ := startServer(t, Config{Addr: "127.0.0.1:0", ProxyProtocol: true, DirectAddr: "127.0.0.2:0",
		MetricsAddr: "127.0.0.1:0", WSConfig: WSConfig{WSAddr: "127.0.0.1:0"}})
	frontend := startHAProxy(t, haproxy, dir, certFile, s.WSAddrs()[0].String())

	plain := dialAddr(t, s.Addrs()[1].String(), &net.TCPAddr{IP: net.ParseIP("127.0.0.1")})
	waitOpen(t, s, 1)
	transport := &http.Transport{
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12},
	}
	t.Cleanup(transport.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(frontend)
	wc, _, err := websocket.Dial(ctx, "wss://localhost:"+port+"/ws", &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	t.Cleanup(func() { _ = wc.CloseNow() })
	waitOpen(t, s, 2)
	checkUndisturbed(t, plain, wc, "through haproxy")

	var connz struct {
		Connections []connInfo `json:"connections"`
	}
	getJSON(t, "http://"+s.MetricsAddr().String()+"/connz", &connz)
	found := false
	for _, c := range connz.Connections {
		if c.Proto == "ws" {
			found = strings.HasPrefix(c.Remote, "127.0.0.2:") && c.Via != ""
		}
	}
	if !found {
		t.Errorf("/connz %+v: no ws client from 127.0.0.2 via haproxy", connz.Connections)
	}
	if n := s.closed[ReasonProxyHeader].Load(); n != 0 {
		t.Errorf("proxy_header closes = %d, want 0", n)
	}
}
