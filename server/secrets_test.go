package server

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestRedactArgs(t *testing.T) {
	in := []string{"fanout", "serve", "--admin-token", "t0k", "-admin-token=t0k2", "--cluster", "nats://u:p4ss@h:4222,nats://t0k3n@h2",
		"--cluster=nats://u:p4ss2@h", "--admin-token-file", "/secret/path", "--cluster-creds=/creds/path", "--cluster-tls-key", "/key/path",
		"--tcp-keepalive", "1m", "--addr", ":8888", "--pprof"}
	want := []string{"fanout", "serve", "--admin-token", redacted, "-admin-token=" + redacted, "--cluster", "nats://" + redacted + "@h:4222,nats://" + redacted + "@h2",
		"--cluster=nats://" + redacted + "@h", "--admin-token-file", redacted, "--cluster-creds=" + redacted, "--cluster-tls-key", redacted,
		"--tcp-keepalive", "1m", "--addr", ":8888", "--pprof"}
	if got := redactArgs(in); !slices.Equal(got, want) {
		t.Fatalf("redactArgs:\n got %q\nwant %q", got, want)
	}
	if in[3] != "t0k" {
		t.Fatal("redactArgs changed its argument")
	}
}

func TestVarzConfigHidesSecrets(t *testing.T) {
	cfg := Config{AdminToken: "t0k", AdminTokenFile: "/secret/token", ClusterURLs: "nats://u:p4ss@h:4222/path?x=1,tls://t0k3n@h2:4222",
		ClusterCreds: "/secret/creds", ClusterTLSKey: "/secret/key", ClusterTLSCert: "/public/cert", MaxConns: 10}
	b, _ := json.Marshal(varzConfig(cfg))
	for _, s := range []string{"t0k", "/secret", "p4ss"} {
		if strings.Contains(string(b), s) {
			t.Errorf("/varz config shows %q: %s", s, b)
		}
	}
	for _, s := range []string{`"cluster":"nats://[redacted]@h:4222/path?x=1,tls://[redacted]@h2:4222"`, `"cluster_tls_cert":"/public/cert"`,
		`"max_conns":10`, `"admin_token_file":"[redacted]"`, `"cluster_creds":"[redacted]"`, `"cluster_tls_key":"[redacted]"`,
		`"write_deadline":"0s"`, `"unix_mode":"0"`, `"pprof":false`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("/varz config lacks %s: %s", s, b)
		}
	}
	if strings.Contains(string(b), `"admin_token"`) || strings.Contains(string(b), `"max_pending"`) {
		t.Errorf("/varz config names the token field: %s", b)
	}
}
