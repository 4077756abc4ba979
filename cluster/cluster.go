package cluster

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
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
	DefaultMaxLine       = 64 << 10 // as the server's --max-line
	minFrameLen          = len("1:x\r\n")
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
	MaxLine       int           // longest line a received frame may hold, as the server's --max-line
	Keys          [][]byte      // cluster keys (ParseKeys); none: messages are not authenticated
	NodeCheckWait time.Duration // bound on the node-number check; default DefaultNodeCheckWait
	Describe      string        // how this node answers an authenticated node-number check (pid, host)
}

// Stats are the bridge's counters.
type Stats struct {
	Connected       bool
	Published       uint64 // lines published
	PublishDropped  uint64 // lines not published: queue full, or NATS refused them
	Received        uint64 // lines received from other nodes and delivered locally
	Missed          uint64 // lines other nodes published that never arrived here (an outage, a NATS drop); counted when the origin's next message arrives
	Duplicates      uint64 // lines that arrived twice and were dropped the second time
	ReceiveDropped  uint64 // messages NATS dropped because this node fell behind
	InjectDropped   uint64 // lines received but refused: local delivery too far behind
	Malformed       uint64 // messages dropped whole: a header or a frame failed the checks
	Unauthenticated uint64 // with a key: messages dropped for a missing or wrong MAC
	Origins         int    // origin nodes whose sequence is tracked (at most 1024)
	Outages         uint64 // disconnections seen
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

	out     outSeq       // owned by the publisher goroutine
	tx      *macer       // owned by the publisher goroutine; nil without a key
	origins originTable  // owned by the subscription goroutine
	rx      *macer       // owned by the subscription goroutine; nil without a key
	seed    maphash.Seed // payload hashes for duplicates, without a key

	rejectLog, unauthLog, staleLog logLimit

	published, publishDropped, received, missed, duplicates, injectDropped, malformed, unauthenticated, outages atomic.Uint64

	originsUsed atomic.Int64 // origins.used, for Stats
}

type outMsg struct {
	data  []byte
	lines int
}

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
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	if cfg.NodeCheckWait <= 0 {
		cfg.NodeCheckWait = DefaultNodeCheckWait
	}
	if cfg.Node < 0 || cfg.Node > MaxNode {
		return nil, fmt.Errorf("cluster: node %d is not 0..%d", cfg.Node, MaxNode)
	}
	if len(cfg.Keys) > MaxKeys {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrBadKeyFile, len(cfg.Keys), MaxKeys)
	}
	for _, k := range cfg.Keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("%w: a key of %d bytes, want at least %d", ErrBadKeyFile, len(k), MinKeyLen)
		}
	}
	node := strconv.FormatInt(cfg.Node, 10)
	b := &Bridge{
		cfg:    cfg,
		log:    log.With("component", "cluster"),
		node:   node,
		inject: inject,
		queue:  make(chan outMsg, cfg.PublishQueue),
		out:    outSeq{run: uint64(time.Now().UnixNano())},
		tx:     newMacer(cfg.Keys),
		rx:     newMacer(cfg.Keys),
		seed:   maphash.MakeSeed(),
	}
	b.origins.trusted = len(cfg.Keys) > 0
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
	b.origins.maxFrames = uint64(max(nc.MaxPayload(), 1))/uint64(minFrameLen) + 1
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
	b.log.Info("joined broadcast domain", "url", redact(nc.ConnectedUrl()), "subject", cfg.Subject, "node", cfg.Node,
		"authenticated", len(cfg.Keys) > 0)
	return b, nil
}

func (b *Bridge) subscribe() error {
	ctl, err := b.nc.Subscribe(b.controlSubject(), b.answerCheck(newMacer(b.cfg.Keys)))
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

// receive checks one message from the subject and injects its batch.
// Whoever can publish there can send anything, so the message is believed
// only if every part of it is what a node sends: one canonical origin and
// sequence header, a valid MAC with a key, frames that are all
// "<id>:<line>\r\n" with the origin's node bits in every ID and lines
// within --max-line. Otherwise it is dropped whole, counted and logged
// (at most once per logEvery per kind). Runs on nats.go's subscription
// goroutine, one message at a time.
func (b *Bridge) receive(m *nats.Msg) {
	originText, ok1 := headerValue(m.Header, originHeader)
	seqText, ok2 := headerValue(m.Header, seqHeader)
	node, ok3 := parseNode(originText)
	if !ok1 || !ok2 || !ok3 {
		b.reject(m, "a missing, repeated or non-canonical Fanout-Node or Fanout-Seq header")
		return
	}
	var sum uint64 // the payload's hash, for duplicates: with a key, its MAC's
	if b.rx != nil {
		mac, ok := headerValue(m.Header, macHeader)
		b.rx.fields(macKindMessage, b.cfg.Subject, originText, seqText)
		if !ok || !b.rx.verify(mac, m.Data) {
			b.unauthenticated.Add(1)
			if ok, suppressed := b.unauthLog.allow(time.Now()); ok {
				b.log.Warn("dropped a message without a valid MAC from the NATS subject (a publisher without the cluster key)",
					"origin", originText, "bytes", len(m.Data), "suppressed", suppressed) // originText is canonical here
			}
			return
		}
		sum = binary.LittleEndian.Uint64(b.rx.sum[:8])
	}
	if int64(node) == b.cfg.Node {
		// NoEcho keeps our own messages from us: this is another process.
		b.reject(m, "a message naming this node as its origin: another node runs with this --node, or it is forged")
		return
	}
	lines, ferr := checkFrames(m.Data, node, b.cfg.MaxLine)
	if ferr != frameOK {
		b.reject(m, ferr.String())
		return
	}
	seq, ok := parseSeq(seqText, lines)
	if !ok {
		b.reject(m, "a non-canonical Fanout-Seq header")
		return
	}
	if b.rx == nil {
		sum = maphash.Bytes(b.seed, m.Data)
	}
	v, missed := b.origins.observe(node, seq, lines, sum)
	b.originsUsed.Store(int64(b.origins.used))
	b.missed.Add(missed)
	if v != deliver {
		b.duplicates.Add(uint64(lines))
		if v == stale {
			if ok, suppressed := b.staleLog.allow(time.Now()); ok {
				b.log.Warn("dropped a signed message of an older run or far behind its node's stream: a replay, or the node's clock went back across a restart",
					"origin", node, "suppressed", suppressed)
			}
		}
		return
	}
	if !b.inject(m.Data, lines) {
		b.injectDropped.Add(uint64(lines))
		return
	}
	b.received.Add(uint64(lines))
}

// reject counts a message that failed a check and logs why, within
// logEvery. Never logs the payload.
func (b *Bridge) reject(m *nats.Msg, why string) {
	b.malformed.Add(1)
	if ok, suppressed := b.rejectLog.allow(time.Now()); ok {
		origin, _ := headerValue(m.Header, originHeader)
		if len(origin) > 16 {
			origin = origin[:16] + "…"
		}
		b.log.Warn("dropped a message from the NATS subject", "why", why, "origin", origin,
			"bytes", len(m.Data), "suppressed", suppressed)
	}
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
		seq := b.out.stamp(m.lines)
		header := nats.Header{originHeader: []string{b.node}, seqHeader: []string{seq}}
		if b.tx != nil {
			b.tx.fields(macKindMessage, b.cfg.Subject, b.node, seq)
			header[macHeader] = []string{b.tx.sign(m.data)}
		}
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
		Connected:       b.Connected(),
		Published:       b.published.Load(),
		PublishDropped:  b.publishDropped.Load(),
		Received:        b.received.Load(),
		Missed:          b.missed.Load(),
		Duplicates:      b.duplicates.Load(),
		ReceiveDropped:  uint64(max(dropped, 0)),
		InjectDropped:   b.injectDropped.Load(),
		Malformed:       b.malformed.Load(),
		Unauthenticated: b.unauthenticated.Load(),
		Origins:         int(b.originsUsed.Load()),
		Outages:         b.outages.Load(),
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

// CheckURLs checks a comma-separated list of NATS server URLs as --cluster
// takes it (the server's and the bench's): each must name a scheme, as in
// nats://host:4222. nats.go checks the rest when it connects.
func CheckURLs(urls string) error {
	for _, u := range strings.Split(urls, ",") {
		if !strings.Contains(u, "://") {
			return fmt.Errorf("%q is not a URL like nats://host:4222", u)
		}
	}
	return nil
}
