package cluster_test

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/internal/testutil"
	"github.com/fanout/fanout/server"
)

// The attacks of issue 18 (section 4), each published by a plain NATS
// client on the subject, as anyone allowed to publish there could.

// attacker is a NATS connection of someone who is not a node.
func logTo(w *testutil.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func attacker(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// forge publishes a message on the subject with the given headers
// (origin and sequence; "" leaves one out) and payload.
func forge(t *testing.T, nc *nats.Conn, origin, seq, payload string) {
	t.Helper()
	h := nats.Header{}
	if origin != "" {
		h.Set("Fanout-Node", origin)
	}
	if seq != "" {
		h.Set("Fanout-Seq", seq)
	}
	if err := nc.PublishMsg(&nats.Msg{Subject: cluster.DefaultSubject, Header: h, Data: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

// idFor is a sender ID of node: snowflake time<<22 | node<<12 | sequence.
func idFor(node int64) string {
	return strconv.FormatInt(1<<40|node<<12|1, 10)
}

// observer subscribes to the subject to read what nodes publish: what an
// attacker who may also subscribe learns (their run, numbers and IDs).
func observer(t *testing.T, nc *nats.Conn) chan *nats.Msg {
	t.Helper()
	msgs := make(chan *nats.Msg, 1024)
	sub, err := nc.ChanSubscribe(cluster.DefaultSubject, msgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func nextFrom(t *testing.T, msgs chan *nats.Msg, origin string) *nats.Msg {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-msgs:
			if m.Header.Get("Fanout-Node") == origin {
				return m
			}
		case <-timeout:
			t.Fatalf("no message from node %s on the subject", origin)
		}
	}
}

// expectNothing fails if c has a line to read within a short while.
func expectNothing(t *testing.T, c *client, what string) {
	t.Helper()
	if body, err := c.read(200 * time.Millisecond); err == nil {
		t.Fatalf("%s: the client got %q", what, body)
	}
}

// TestLeadingZeroFloodKeepsTableBounded: node numbers have one spelling
// (no "07", "007", …), and the per-origin table has a slot per node number
// and nothing else, whatever is published. Before: every spelling was an
// entry of its own, holding whatever run ID it came with (9 689 such
// messages grew each node to ~2 GB).
func TestLeadingZeroFloodKeepsTableBounded(t *testing.T) {
	ns := startNATS(t, -1)
	n1 := startNodeWith(t, server.Config{Node: 1, ClusterURLs: ns.ClientURL(), MetricsAddr: "127.0.0.1:0"})
	nc := attacker(t, ns.ClientURL())
	const spellings, bigSpellings = 3000, 5
	bigRun := strings.Repeat("z", 60_000) // a run ID that, kept, would cost 60 kB an entry
	for i := range spellings + bigSpellings {
		node, run := strings.Repeat("0", i+1)+"7", "z"
		if i >= spellings {
			run = bigRun
		}
		forge(t, nc, node, run+".0.0", idFor(7)+":x\r\n")
	}
	for node := range int64(1024) { // every node number, canonically, twice over (1 is the receiver's own)
		for run := range 2 {
			forge(t, nc, strconv.FormatInt(node, 10), fmt.Sprintf("%s.0.0", strconv.FormatInt(int64(run+1), 36)), idFor(node)+":x\r\n")
		}
	}
	forge(t, nc, "7", bigRun+".0.0", idFor(7)+":x\r\n") // a canonical node with a huge run ID
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	const wantMalformed = spellings + bigSpellings + 2 + 1 // the spellings, node 1's own two, the huge run ID
	waitFor(t, "every forged message to be judged", func() bool {
		return metric(t, n1, "fanout_cluster_malformed_messages_total") == wantMalformed &&
			metric(t, n1, "fanout_cluster_received_lines_total") == 2*1023
	})
	if got := metric(t, n1, "fanout_cluster_origins"); got != 1023 {
		t.Fatalf("the origin table holds %g entries, want 1023 (every node number but this node's)", got)
	}
}

// TestForgedSequenceDoesNotSilenceNode: a forged message in node 2's own
// run (read off the subject) with a message number near 2^64 does not make
// node 1 drop node 2's real lines, and one claiming 4.6e18 lines before it
// adds nothing to the missed count. Before: node 1 dropped every real line
// of node 2 as a duplicate until node 2 restarted, and missed_lines_total
// reached 4.6e18.
func TestForgedSequenceDoesNotSilenceNode(t *testing.T) {
	ns := startNATS(t, -1)
	n1 := startNodeWith(t, server.Config{Node: 1, ClusterURLs: ns.ClientURL(), MetricsAddr: "127.0.0.1:0"})
	n2 := startNode(t, ns.ClientURL(), 2)
	a, b := dial(t, n1), dial(t, n2)
	waitFor(t, "the clients to join", func() bool { return n1.Connections() == 1 && n2.Connections() == 1 })
	nc := attacker(t, ns.ClientURL())
	seen := observer(t, nc)

	b.send("hello\n")
	if got := a.mustRead(); got != "hello" {
		t.Fatalf("got %q", got)
	}
	real := nextFrom(t, seen, "2")
	run, _, _ := strings.Cut(real.Header.Get("Fanout-Seq"), ".")
	bID, _, _ := strings.Cut(string(real.Data), ":")

	for i, seq := range []string{
		fmt.Sprintf("%s.%d.0", run, uint64(math.MaxUint64-1)),                 // the jump to 2^64
		fmt.Sprintf("%s.1.4600000000000000000", run),                          // 4.6e18 lines missed in one message
		fmt.Sprintf("%s.%d.%d", run, uint64(math.MaxUint64-3), uint64(1)<<62), // both
	} {
		forge(t, nc, "2", seq, fmt.Sprintf("%s:forged %d\r\n", bID, i))
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // without a key, forged lines in node 2's name are delivered: they are well formed
		if got := a.mustRead(); got != fmt.Sprintf("forged %d", i) {
			t.Fatalf("got %q", got)
		}
	}
	const lines = 50
	for i := range lines {
		b.send(fmt.Sprintf("real %d\n", i))
	}
	for i := range lines {
		if got := a.mustRead(); got != fmt.Sprintf("real %d", i) {
			t.Fatalf("line %d of node 2 after the forgeries: got %q", i, got)
		}
	}
	if d := metric(t, n1, "fanout_cluster_duplicate_lines_total"); d != 0 {
		t.Fatalf("%g of node 2's real lines dropped as duplicates", d)
	}
	if m := metric(t, n1, "fanout_cluster_missed_lines_total"); m != 0 {
		t.Fatalf("missed_lines_total = %g after forged sequences, want 0 (nothing was missed)", m)
	}
}

// TestForgedLinesDropped: frames a node never sends are dropped whole and
// counted, and nothing of them reaches a client. Before, each was
// delivered as it was.
func TestForgedLinesDropped(t *testing.T) {
	ns := startNATS(t, -1)
	n1 := startNodeWith(t, server.Config{Node: 1, ClusterURLs: ns.ClientURL(), MetricsAddr: "127.0.0.1:0"})
	n2 := startNode(t, ns.ClientURL(), 2)
	victim, b := dial(t, n1), dial(t, n2)
	waitFor(t, "the clients to join", func() bool { return n1.Connections() == 1 && n2.Connections() == 1 })
	victim.send("me\n")
	line, err := b.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	victimID, _, _ := strings.Cut(line, ":")
	nc := attacker(t, ns.ClientURL())
	id2 := idFor(2)
	cases := []struct {
		name, origin, seq, payload string
	}{
		{name: "the victim's own ID", origin: "2", payload: victimID + ":your own line\r\n"},
		{name: "a fake ERR line", origin: "2", payload: "ERR kicked\r\n"},
		{name: "a fake ERR line after a good frame", origin: "2", payload: id2 + ":ok\r\nERR kicked\r\n"},
		{name: "bare LF", origin: "2", payload: id2 + ":a\nb\r\n"},
		{name: "over-long line", origin: "2", payload: id2 + ":" + strings.Repeat("x", server.DefaultMaxLine+1) + "\r\n"},
		{name: "empty line", origin: "2", payload: id2 + ":\r\n"},
		{name: "leading-zero ID", origin: "2", payload: "0" + id2 + ":x\r\n"},
		{name: "as the victim's own node", origin: "1", payload: victimID + ":x\r\n"},
		{name: "leading-zero node", origin: "02", payload: id2 + ":x\r\n"},
		{name: "no sequence", origin: "2", seq: "-", payload: id2 + ":x\r\n"},
		{name: "non-canonical sequence", origin: "2", seq: "z.01.0", payload: id2 + ":x\r\n"},
		{name: "no origin", origin: "", payload: id2 + ":x\r\n"},
	}
	for i, tc := range cases {
		seq := tc.seq
		switch seq {
		case "":
			seq = fmt.Sprintf("z.%d.%d", i, i)
		case "-":
			seq = ""
		}
		forge(t, nc, tc.origin, seq, tc.payload)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every forged message to be counted", func() bool {
		return metric(t, n1, "fanout_cluster_malformed_messages_total") == float64(len(cases))
	})
	b.send("real\n") // the first line the victim gets, so nothing forged came before it
	if got := victim.mustRead(); got != "real" {
		t.Fatalf("the victim got %q first", got)
	}
	expectNothing(t, victim, "after the real line")
	if r := metric(t, n1, "fanout_cluster_received_lines_total"); r != 1 {
		t.Fatalf("received_lines_total = %g, want 1 (only the real line)", r)
	}
}

// TestSilentSquatterDoesNotBlockStart: a subscriber on a node's control
// subject that never answers delays its start by the bounded check only.
// Before: the node refused to start (ErrNodeInUse) for as long as the
// squatter stayed.
func TestSilentSquatterDoesNotBlockStart(t *testing.T) {
	ns := startNATS(t, -1)
	nc := attacker(t, ns.ClientURL())
	sub, err := nc.Subscribe(cluster.DefaultSubject+".node.3", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: 3, ClusterURLs: ns.ClientURL()}, logTo(logs))
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := s.Start(); err != nil {
		t.Fatalf("node 3 with a silent squatter on its control subject: %v", err)
	}
	took := time.Since(began)
	n3 := &node{Server: s}
	t.Cleanup(func() { n3.stop(t) })
	if bound := 4 * cluster.DefaultNodeCheckWait; took > bound { // a guard against hanging, not a timing
		t.Fatalf("start took %s, past %s", took, bound)
	}
	if !strings.Contains(logs.String(), "did not answer; starting anyway") {
		t.Fatalf("no warning about the silent subscriber:\n%s", logs.String())
	}
	t.Logf("node 3 started %s after it asked, past a silent squatter", took.Round(time.Millisecond))

	// It works: a client of another node hears node 3's client.
	n4 := startNode(t, ns.ClientURL(), 4)
	c3, c4 := dial(t, n3), dial(t, n4)
	waitFor(t, "the clients to join", func() bool { return n3.Connections() == 1 && n4.Connections() == 1 })
	c3.send("up\n")
	if got := c4.mustRead(); got != "up" {
		t.Fatalf("got %q", got)
	}
}

// TestNodeCheckAnswerRevealsLittle: anyone may ask whether node 1 is live,
// but without the key it learns only that; the pid and host go to askers
// holding the key. Before: every asker got "pid … on <host>".
func TestNodeCheckAnswerRevealsLittle(t *testing.T) {
	ns := startNATS(t, -1)
	keyed := keyFile(t, keyA)
	startNode(t, ns.ClientURL(), 1)
	startNodeWith(t, server.Config{Node: 2, ClusterURLs: ns.ClientURL(), ClusterKeyFile: keyed})
	nc := attacker(t, ns.ClientURL())
	for _, n := range []string{"1", "2"} {
		reply, err := nc.Request(cluster.DefaultSubject+".node."+n, nil, 5*time.Second)
		if err != nil {
			t.Fatalf("asking node %s: %v", n, err)
		}
		if got := string(reply.Data); got != "fanout node "+n {
			t.Fatalf("node %s answered an unauthenticated asker %q, want only %q", n, got, "fanout node "+n)
		}
	}
	// A node holding the key is told who has the number.
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: 2, ClusterURLs: ns.ClientURL(), ClusterKeyFile: keyed}, logger())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start()
	if !errors.Is(err, cluster.ErrNodeInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("a second keyed node 2: %v, want ErrNodeInUse naming the pid", err)
	}
}

// TestSquatterWithoutKeyCannotHoldNumber: with a key, an answer without a
// valid MAC does not count, so a squatter who answers cannot keep a node
// from starting either; a live node holding the key still does.
func TestSquatterWithoutKeyCannotHoldNumber(t *testing.T) {
	ns := startNATS(t, -1)
	nc := attacker(t, ns.ClientURL())
	sub, err := nc.Subscribe(cluster.DefaultSubject+".node.5", func(m *nats.Msg) {
		_ = m.Respond([]byte("fanout node 5, pid 1 on nowhere"))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	keys := [][]byte{keyA}
	inject := func([]byte, int) bool { return true }
	cfg := cluster.Config{URLs: ns.ClientURL(), Node: 5, Keys: keys, NodeCheckWait: 300 * time.Millisecond}
	b, err := cluster.Join(cfg, inject, logger())
	if err != nil {
		t.Fatalf("with a key, a squatter's unsigned answer kept node 5 from starting: %v", err)
	}
	t.Cleanup(func() { _ = b.Close(time.Second) })
	if _, err := cluster.Join(cfg, inject, logger()); !errors.Is(err, cluster.ErrNodeInUse) {
		t.Fatalf("a second node 5 with the key: %v, want ErrNodeInUse", err)
	}
	// Without a key, a squatter that answers is believed: that is what
	// the key (or NATS permissions) is for.
	cfg.Keys = nil
	if _, err := cluster.Join(cfg, inject, logger()); !errors.Is(err, cluster.ErrNodeInUse) {
		t.Fatalf("without a key: %v, want ErrNodeInUse", err)
	}
}

var (
	keyA = []byte("0123456789abcdef0123456789abcdef-key-A")
	keyB = []byte("0123456789abcdef0123456789abcdef-key-B")
	keyC = []byte("0123456789abcdef0123456789abcdef-key-C")
)

// keyFile writes keys, one per line, to a file of the test's own.
func keyFile(t *testing.T, keys ...[]byte) string {
	t.Helper()
	var sb strings.Builder
	for _, k := range keys {
		sb.Write(k)
		sb.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), "cluster.key")
	if err := os.WriteFile(p, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClusterKey: with a key, nodes holding it deliver each other's lines
// and drop (and count) everything else, forged messages that are
// otherwise perfect included, and lines from a node with another key;
// during a rotation a node signing with the new key is believed by one
// that has it second.
func TestClusterKey(t *testing.T) {
	ns := startNATS(t, -1)
	both, rotated, other := keyFile(t, keyA, keyB), keyFile(t, keyB, keyA), keyFile(t, keyC)
	n1 := startNodeWith(t, server.Config{Node: 1, ClusterURLs: ns.ClientURL(), ClusterKeyFile: both, MetricsAddr: "127.0.0.1:0"})
	n2 := startNodeWith(t, server.Config{Node: 2, ClusterURLs: ns.ClientURL(), ClusterKeyFile: rotated})
	n3 := startNodeWith(t, server.Config{Node: 3, ClusterURLs: ns.ClientURL(), ClusterKeyFile: other})
	a, b, c := dial(t, n1), dial(t, n2), dial(t, n3)
	waitFor(t, "the clients to join", func() bool {
		return n1.Connections() == 1 && n2.Connections() == 1 && n3.Connections() == 1
	})
	nc := attacker(t, ns.ClientURL())
	seen := observer(t, nc)

	exchange(t, []*client{a, b}, 20) // [A B] and [B A]: both directions believed
	real := nextFrom(t, seen, "2")
	run, _, _ := strings.Cut(real.Header.Get("Fanout-Seq"), ".")
	if real.Header.Get("Fanout-Mac") == "" {
		t.Fatal("a keyed node's message carries no MAC")
	}

	// Forgeries, each perfect but for its MAC.
	id2 := idFor(2)
	forge(t, nc, "2", run+".1000.1000", id2+":no MAC\r\n")
	wrong := &nats.Msg{Subject: cluster.DefaultSubject, Data: []byte(id2 + ":a MAC of other bytes\r\n"), Header: nats.Header{
		"Fanout-Node": {"2"}, "Fanout-Seq": {run + ".1001.1001"}, "Fanout-Mac": {real.Header.Get("Fanout-Mac")}}}
	if err := nc.PublishMsg(wrong); err != nil {
		t.Fatal(err)
	}
	replay := &nats.Msg{Subject: cluster.DefaultSubject, Data: real.Data, Header: real.Header}
	if err := nc.PublishMsg(replay); err != nil { // a real message again: a duplicate
		t.Fatal(err)
	}
	c.send("other key\n") // node 3's key is neither of the others'
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forgeries and node 3's message to be counted", func() bool {
		return metric(t, n1, "fanout_cluster_unauthenticated_messages_total") == 3
	})
	waitFor(t, "the replay to be dropped", func() bool { return metric(t, n1, "fanout_cluster_duplicate_lines_total") >= 1 })
	b.send("real\n")
	if got := a.mustRead(); got != "real" {
		t.Fatalf("node 1's client got %q first", got)
	}
	expectNothing(t, a, "after the real line")
	expectNothing(t, b, "from a node with another key")
}
