package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults for Config fields left at zero.
const (
	DefaultSubject       = "fanout.broadcast"
	DefaultReconnectWait = 2 * time.Second
	DefaultPublishQueue  = 1024     // batches
	DefaultPendingBytes  = 64 << 20 // received, not yet injected
	nodeCheckTimeout     = time.Second
	originHeader         = "Fanout-Node"
	maxNodeNumber        = 1023 // snowflake's 10 node bits
)

// Config says how to join the domain.
type Config struct {
	URLs          string        // comma-separated nats:// URLs (credentials may be in the URL)
	Subject       string        // broadcast subject; the control subject is Subject+".node.<n>"
	Node          int64         // this node's snowflake node number
	Creds         string        // NATS credentials file (JWT + nkey), optional
	TLSCA         string        // CA file to verify the NATS server, optional
	TLSCert       string        // client certificate file, optional (with TLSKey)
	TLSKey        string        // client key file, optional
	ReconnectWait time.Duration // between reconnect attempts (nats.go adds jitter)
	PublishQueue  int           // batches waiting to be published; past it they are dropped
	PendingBytes  int           // bytes received and not yet injected; past it NATS drops
	Describe      string        // how this node answers the node-number check
}

// Stats are the bridge's counters.
type Stats struct {
	Connected      bool
	Published      uint64 // lines published
	PublishDropped uint64 // lines not published: queue full, or NATS refused them
	Received       uint64 // lines received from other nodes and delivered locally
	Missed         uint64 // lines other nodes published that never arrived here (an outage, a NATS drop); counted when the origin's next message arrives
	Duplicates     uint64 // lines that arrived twice and were dropped the second time
	ReceiveDropped uint64 // messages NATS dropped because this node fell behind
	InjectDropped  uint64 // lines received but refused: local delivery too far behind
	Malformed      uint64 // messages that did not hold whole frames
	Outages        uint64 // disconnections seen
}

// Bridge is a node's link to the domain.
type Bridge struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	sub    *nats.Subscription
	ctl    *nats.Subscription
	node   string // this node's number, as the origin header says it
	inject func(buf []byte, lines int) bool
	queue  chan outMsg
	wg     sync.WaitGroup
	closed sync.Once

	queueMu sync.RWMutex // guards closing against Offer's send; never held across a blocking call
	closing bool         // guarded by queueMu: queue is closed, Offer drops

	out     outSeq  // owned by the publisher goroutine
	origins origins // owned by the subscription goroutine

	published, publishDropped, received, missed, duplicates, injectDropped, malformed, outages atomic.Uint64
}

type outMsg struct {
	data  []byte
	lines int
}

// ErrNodeInUse is returned by Join when a live node has the same number.
var ErrNodeInUse = errors.New("cluster: node number already in use")

// Join connects to NATS, checks that no live node has cfg.Node, and starts
// relaying: inject receives other nodes' batches (on nats.go's goroutine,
// in arrival order) and reports false when it had to refuse one.
func Join(cfg Config, inject func(buf []byte, lines int) bool, log *slog.Logger) (*Bridge, error) {
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = DefaultReconnectWait
	}
	if cfg.PublishQueue <= 0 {
		cfg.PublishQueue = DefaultPublishQueue
	}
	if cfg.PendingBytes <= 0 {
		cfg.PendingBytes = DefaultPendingBytes
	}
	node := strconv.FormatInt(cfg.Node, 10)
	b := &Bridge{
		cfg:     cfg,
		log:     log.With("component", "cluster"),
		node:    node,
		inject:  inject,
		queue:   make(chan outMsg, cfg.PublishQueue),
		out:     outSeq{incarnation: strconv.FormatInt(time.Now().UnixNano(), 36)},
		origins: origins{},
	}
	opts := []nats.Option{
		nats.Name("fanout node " + node),
		nats.NoEcho(),
		nats.DontRandomize(), // the URLs' order is the operator's preference
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // our own Close: not an outage
				b.log.Debug("NATS connection closed")
				return
			}
			b.outages.Add(1)
			b.log.Warn("NATS connection lost; local broadcast continues, cross-node lines are not relayed until it returns", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("NATS connection restored", "url", redact(nc.ConnectedUrl()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			b.log.Warn("NATS error", "err", err)
		}),
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	nc, err := nats.Connect(cfg.URLs, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to %s: %w", redact(cfg.URLs), err)
	}
	b.nc = nc
	if err := b.checkNode(); err != nil {
		nc.Close()
		return nil, err
	}
	if err := b.subscribe(); err != nil {
		nc.Close()
		return nil, err
	}
	b.wg.Add(1)
	go b.publish()
	b.log.Info("joined broadcast domain", "url", redact(nc.ConnectedUrl()), "subject", cfg.Subject, "node", cfg.Node)
	return b, nil
}

func (b *Bridge) controlSubject() string {
	return b.cfg.Subject + ".node." + strconv.FormatInt(b.cfg.Node, 10)
}

// checkNode asks whether a node holds our number. No subscriber at all
// (no responders) means the number is free. A subscriber that does not
// answer is most likely a node that died without closing its connection:
// NATS keeps its subscription until it notices (at once when the process
// dies on a live host, whose kernel closes the socket; after the server's
// ping_interval × ping_max when the host itself vanished), so the number
// stays taken until then rather than risk two nodes minting the same IDs.
func (b *Bridge) checkNode() error {
	reply, err := b.nc.Request(b.controlSubject(), nil, nodeCheckTimeout)
	switch {
	case err == nil:
		return fmt.Errorf("%w: node %d is live (%s); give every node its own --node",
			ErrNodeInUse, b.cfg.Node, reply.Data)
	case errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w: node %d is subscribed but did not answer within %s; if it died, "+
			"its number is free once NATS drops its connection (NATS ping_interval × ping_max)",
			ErrNodeInUse, b.cfg.Node, nodeCheckTimeout)
	case errors.Is(err, nats.ErrNoResponders):
		return nil
	default:
		return fmt.Errorf("cluster: node-number check: %w", err)
	}
}

func (b *Bridge) subscribe() error {
	ctl, err := b.nc.Subscribe(b.controlSubject(), func(m *nats.Msg) {
		if err := m.Respond([]byte(b.cfg.Describe)); err != nil {
			b.log.Warn("answering node-number check", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", b.controlSubject(), err)
	}
	sub, err := b.nc.Subscribe(b.cfg.Subject, b.receive)
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", b.cfg.Subject, err)
	}
	if err := sub.SetPendingLimits(-1, b.cfg.PendingBytes); err != nil {
		return fmt.Errorf("cluster: pending limits: %w", err)
	}
	b.ctl, b.sub = ctl, sub
	// The subscriptions must reach the server before we count as joined.
	if err := b.nc.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("cluster: flush subscriptions: %w", err)
	}
	return nil
}

// receive injects one batch from another node. Runs on nats.go's
// subscription goroutine, one message at a time.
func (b *Bridge) receive(m *nats.Msg) {
	origin := m.Header.Get(originHeader)
	if origin == b.node {
		return // our own (NoEcho makes this rare: a second connection of ours)
	}
	lines := bytes.Count(m.Data, []byte{'\n'})
	if lines == 0 || !bytes.HasSuffix(m.Data, []byte("\r\n")) {
		b.malformed.Add(1)
		return
	}
	seq := m.Header.Get(seqHeader)
	if n, err := strconv.Atoi(origin); err != nil || n < 0 || n > maxNodeNumber {
		// Only node numbers are tracked, so a stray publisher on the
		// subject cannot grow the per-origin state: its lines go through
		// untracked.
		seq = ""
	}
	v, missed := b.origins.observe(origin, seq, lines)
	b.missed.Add(missed)
	if v == duplicate {
		b.duplicates.Add(uint64(lines))
		return
	}
	if !b.inject(m.Data, lines) {
		b.injectDropped.Add(uint64(lines))
		return
	}
	b.received.Add(uint64(lines))
}

// Offer queues a sealed batch for publishing; it copies buf and never
// blocks: when the queue is full, or the bridge is closed (an event loop
// still running past the shutdown deadline), the batch is dropped and
// counted. Runs on an event loop; safe for concurrent use.
func (b *Bridge) Offer(buf []byte, lines int) {
	b.queueMu.RLock()
	defer b.queueMu.RUnlock()
	if b.closing {
		b.publishDropped.Add(uint64(lines))
		return
	}
	msg := outMsg{data: append([]byte(nil), buf...), lines: lines}
	select {
	case b.queue <- msg:
	default:
		b.publishDropped.Add(uint64(lines))
	}
}

// publish is the publisher goroutine.
func (b *Bridge) publish() {
	defer b.wg.Done()
	for m := range b.queue {
		header := nats.Header{originHeader: []string{b.node}, seqHeader: []string{b.out.stamp(m.lines)}}
		err := b.nc.PublishMsg(&nats.Msg{Subject: b.cfg.Subject, Header: header, Data: m.data})
		if err != nil {
			b.publishDropped.Add(uint64(m.lines))
			continue
		}
		b.published.Add(uint64(m.lines))
	}
}

// Connected reports whether the NATS connection is up.
func (b *Bridge) Connected() bool { return b.nc.IsConnected() }

// Stats returns the counters. Safe for concurrent use.
func (b *Bridge) Stats() Stats {
	dropped, _ := b.sub.Dropped()
	return Stats{
		Connected:      b.Connected(),
		Published:      b.published.Load(),
		PublishDropped: b.publishDropped.Load(),
		Received:       b.received.Load(),
		Missed:         b.missed.Load(),
		Duplicates:     b.duplicates.Load(),
		ReceiveDropped: uint64(max(dropped, 0)),
		InjectDropped:  b.injectDropped.Load(),
		Malformed:      b.malformed.Load(),
		Outages:        b.outages.Load(),
	}
}

// Close publishes what is queued (bounded by timeout) and leaves the
// domain. Call it after the event loops have stopped offering batches.
func (b *Bridge) Close(timeout time.Duration) error {
	var err error
	b.closed.Do(func() {
		b.queueMu.Lock()
		b.closing = true
		close(b.queue)
		b.queueMu.Unlock()
		b.wg.Wait()
		if b.nc.IsConnected() {
			err = b.nc.FlushTimeout(timeout)
		}
		b.nc.Close()
	})
	if err != nil {
		return fmt.Errorf("cluster: flush on close: %w", err)
	}
	return nil
}

// redact hides the user information of URLs (a password, or a token
// given as the user name, which nats.go's ConnectedUrlRedacted shows) for
// logs and errors.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
				parts[i] = u[:scheme+3] + "***" + u[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}
