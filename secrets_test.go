package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// startAuthNATS runs an embedded NATS server on a free loopback port
// that wants a user and password, or a token.
func startAuthNATS(t *testing.T, user, pass, token string) int {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Username: user, Password: pass, Authorization: token})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.Addr().(*net.TCPAddr).Port
}

// TestSecretsStayInside plants secrets everywhere a careless operator
// puts them (the admin token on the command line, in a file whose path
// is telling, or in FANOUT_ADMIN_TOKEN; the NATS password or token in
// --cluster or FANOUT_CLUSTER) and greps for them in the answer of every
// endpoint of the metrics listener (pprof's included, asked with the
// admin token), in /metrics, and in every log line of a run at debug
// level that sees connections, a kick, a wrong token and a shutdown.
// /varz showed the NATS password and the token file's path, and pprof's
// cmdline the token.
func TestSecretsStayInside(t *testing.T) {
	cases := []struct {
		name    string
		secrets []string
		args    func(t *testing.T, natsPort int) (args, env []string, token string)
		nats    func(t *testing.T) int
	}{
		{
			name:    "token on the command line, password in FANOUT_CLUSTER",
			secrets: []string{"Tok3nOnCmdLine", "Passw0rdInEnv"},
			nats:    func(t *testing.T) int { return startAuthNATS(t, "fanout", "Passw0rdInEnv", "") },
			args: func(t *testing.T, port int) ([]string, []string, string) {
				return []string{"--admin-token", "Tok3nOnCmdLine"},
					[]string{fmt.Sprintf("FANOUT_CLUSTER=nats://fanout:Passw0rdInEnv@127.0.0.1:%d", port)}, "Tok3nOnCmdLine"
			},
		},
		{
			name:    "token in a file, password in --cluster, a cluster key file",
			secrets: []string{"Tok3nInFile", "S3cretPathPart", "Passw0rdOnCmdLine", "ClusterK3yMaterial"},
			nats:    func(t *testing.T) int { return startAuthNATS(t, "fanout", "Passw0rdOnCmdLine", "") },
			args: func(t *testing.T, port int) ([]string, []string, string) {
				dir := filepath.Join(t.TempDir(), "S3cretPathPart")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(dir, "token")
				if err := os.WriteFile(file, []byte("Tok3nInFile\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				keyFile := filepath.Join(dir, "cluster.key")
				if err := os.WriteFile(keyFile, []byte("ClusterK3yMaterial-"+strings.Repeat("k", 48)+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"--admin-token-file=" + file, "--cluster", fmt.Sprintf("nats://fanout:Passw0rdOnCmdLine@127.0.0.1:%d", port),
						"--cluster-key-file", keyFile},
					nil, "Tok3nInFile"
			},
		},
		{
			name:    "token in FANOUT_ADMIN_TOKEN, a NATS token in --cluster",
			secrets: []string{"Tok3nInEnv", "NatsT0kenOnCmdLine"},
			nats:    func(t *testing.T) int { return startAuthNATS(t, "", "", "NatsT0kenOnCmdLine") },
			args: func(t *testing.T, port int) ([]string, []string, string) {
				return []string{fmt.Sprintf("--cluster=nats://NatsT0kenOnCmdLine@127.0.0.1:%d", port)},
					[]string{"FANOUT_ADMIN_TOKEN=Tok3nInEnv"}, "Tok3nInEnv"
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.nats(t)
			extra, env, token := tc.args(t, port)
			args := append([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--pprof",
				"--log-level", "debug"}, extra...)
			d := startDaemon(t, 0, env, args...)
			a, b := dialLine(t, d.addr), dialLine(t, d.addr)
			waitUntil(t, "two clients joined", func() bool { return joinedConns(d) == 2 })
			fmt.Fprint(a.conn, "hello\n")
			got, err := b.r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			id, _, _ := strings.Cut(got, ":")

			var answers strings.Builder
			ask := func(method, path, auth string) {
				req, _ := http.NewRequest(method, "http://"+d.metricsAddr+path, nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				c := http.Client{Timeout: 30 * time.Second}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				fmt.Fprintf(&answers, "== %s %s %d\n%s\n", method, path, resp.StatusCode, body)
				for k, v := range resp.Header {
					fmt.Fprintf(&answers, "%s: %s\n", k, v)
				}
			}
			for _, path := range []string{"/metrics", "/healthz", "/readyz", "/varz", "/connz", "/connz/" + id,
				"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/symbol",
				"/debug/pprof/goroutine?debug=2", "/debug/pprof/heap?debug=1", "/debug/pprof/allocs?debug=1",
				"/debug/pprof/threadcreate?debug=1", "/debug/pprof/block?debug=1", "/debug/pprof/mutex?debug=1",
				"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"} {
				ask("GET", path, "Bearer "+token)
			}
			ask("GET", "/connz", "Bearer wrong")
			ask("DELETE", "/connz/"+id, "Bearer wrong")
			ask("DELETE", "/connz/"+id+"?reason=test", "Bearer "+token)
			ask("GET", "/nonexistent", "")
			if !strings.Contains(answers.String(), `"kicked"`) || !strings.Contains(answers.String(), "fanout_connections_open") {
				t.Fatalf("the endpoints did not answer as expected:\n%.2000s", answers.String())
			}
			if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := waitProcess(t, d.cmd, 20*time.Second); err != nil {
				t.Fatalf("exit: %v\n%s", err, d.logs.String())
			}
			for _, secret := range tc.secrets {
				if i := strings.Index(answers.String(), secret); i >= 0 {
					t.Errorf("an answer shows %q: …%s…", secret, answers.String()[max(i-300, 0):min(i+100, len(answers.String()))])
				}
				if i := strings.Index(d.logs.String(), secret); i >= 0 {
					t.Errorf("the log shows %q: …%s…", secret, d.logs.String()[max(i-300, 0):min(i+100, len(d.logs.String()))])
				}
			}
			if !strings.Contains(d.logs.String(), "joined broadcast domain") {
				t.Errorf("the node did not join NATS:\n%s", d.logs.String())
			}
		})
	}
}

type lineConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialLine(t *testing.T, addr string) lineConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return lineConn{conn: c, r: bufio.NewReader(c)}
}
