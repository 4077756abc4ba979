package cluster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/server"
)

// readmeNATSConf returns the NATS configuration README gives under
// "NATS subject permissions and the cluster key".
func readmeNATSConf(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### NATS subject permissions and the cluster key\n")
	_, block, ok2 := strings.Cut(section, "```conf\n")
	conf, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no ```conf block under \"NATS subject permissions and the cluster key\"")
	}
	return conf
}

// TestREADMENATSPermissions runs nats-server with README's configuration:
// nodes of the fanout user exchange lines and check node numbers through
// it, and a user of another account publishing a perfect forgery on the
// subject reaches no node.
func TestREADMENATSPermissions(t *testing.T) {
	const nodePass, appPass = "node-pass-1", "app-pass-2"
	t.Setenv("FANOUT_NATS_PASSWORD", nodePass)
	t.Setenv("APP_NATS_PASSWORD", appPass)
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(readmeNATSConf(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := natsserver.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("README's NATS configuration: %v", err)
	}
	opts.Port = -1
	ns := startNATSWith(t, *opts)
	url := func(user, pass string) string {
		return fmt.Sprintf("nats://%s:%s@%s", user, pass, ns.Addr().String())
	}
	nodeURL := url("fanout", nodePass)
	n1 := startNodeWith(t, server.Config{Node: 1, ClusterURLs: nodeURL, MetricsAddr: "127.0.0.1:0"})
	n2 := startNode(t, nodeURL, 2)
	a, b := dial(t, n1), dial(t, n2)
	waitJoined(t, []*node{n1, n2}, 1)
	exchange(t, []*client{a, b}, 20)

	s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: 2, ClusterURLs: nodeURL}, logger())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, cluster.ErrNodeInUse) {
		t.Fatalf("a second node 2 through README's permissions: %v, want ErrNodeInUse", err)
	}

	app := attacker(t, url("app", appPass))
	forge(t, app, "2", "z.0.0", idFor(2)+":from another account\r\n")
	if err := app.Flush(); err != nil {
		t.Fatal(err)
	}
	b.send("real\n")
	if got := a.mustRead(); got != "real" {
		t.Fatalf("node 1's client got %q", got)
	}
	expectNothing(t, a, "after the real line")
	if got := metric(t, n1, "fanout_cluster_malformed_messages_total") + metric(t, n1, "fanout_cluster_received_lines_total"); got != 20+1 {
		t.Fatalf("node 1 saw %g messages or lines, want the 21 real lines only", got)
	}
}
