package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/shard"
)

// Target is what a run drives.
type Target struct {
	Name     string   // shown in reports: "fanout", "baseline", an address
	Addrs    []string // clients are spread over these round-robin
	WSAddrs  []string // a fanout's WebSocket listeners, when the harness started it with one
	PIDs     []int    // server processes for CPU and RSS figures (summed); none = unknown
	NATSPIDs []int    // NATS server processes the harness started, reported apart
}

// part is the slice of a run's clients one generator process drives:
// all of them in one process, or one worker's share. Sender s is client s
// everywhere, so sender identities are unique across workers.
type part struct {
	Lo, Hi  int   // clients [Lo, Hi), by index in the whole run
	Stalled int   // stalled clients of this process
	Source  int32 // first loopback source address: 127.0.0.(Source+1); 0 lets the kernel choose
}

// senders returns the range of sender indices whose clients are here.
func (p part) senders(w Workload) (int, int) { return min(p.Lo, w.Senders), min(p.Hi, w.Senders) }

// latency histogram range: 1 µs .. 100 s, 3 significant digits.
const (
	histMin     = 1_000
	histMax     = 100_000_000_000
	histShards  = 32
	sampleFlush = 512 // samples a reader buffers before taking a shard lock
)

// readers is how many goroutines (each with its own readySet) read every
// connection; the server has the other cores' worth of event loops.
const readers = 2

// conn is one client connection of the run.
type conn struct {
	idx       int           // index in the whole run
	fd        int           // raw blocking socket
	ackFor    int           // the sender this connection witnesses, or -1
	tally     *Tally        // owned by the reader goroutine
	carry     []byte        // owned by the reader: a partial line between reads
	received  atomic.Uint64 // payload lines, published once per read
	inWindow  uint64        // owned by the reader: lines sent in the measured window
	done      bool          // owned by the reader: EOF or error seen
	err       error         // owned by the reader, read after it ends
	slow      bool          // a slow reader: read by its own goroutine (slow.go), accounted apart
	cutAt     int64         // owned by the reader: when the server was seen to close it, Unix nanos; 0 = not
	afterShut bool          // owned by the reader: it ended after its own sender shut its side (--close-write)
	readBytes uint64        // owned by the reader: bytes read (slow readers)
	readFor   time.Duration // owned by the reader: how long it read (slow readers)
}

// run is the state shared by one run's goroutines.
type run struct {
	w       Workload
	target  Target
	part    part
	conns   []*conn         // the part's clients: conns[i] is client part.Lo+i
	stalled []int           // sockets of the clients that never read
	sent    []atomic.Uint64 // per sender: lines written (by this process's senders)
	cut     []atomic.Bool   // per sender: the server closed it (a write failed)
	shut    []atomic.Bool   // per sender: it wrote its whole burst and shut its side (--close-write)
	acked   []atomic.Uint64 // per sender: lines its witness (when here) has received
	start   int64           // the first line's time, Unix nanos, fixed before start
	winFrom int64           // measured window, Unix nanos, fixed before start
	winTo   int64
	hists   [histShards]struct {
		mu sync.Mutex
		h  *hdrhistogram.Histogram
	}
	progress func(elapsed time.Duration, delivered, sent uint64) // each second while sending; nil = none
}

// Run drives target with w from this process and returns the
// measurements. progress, when not nil, is called about once a second
// while the run sends. RunWorkers spreads a run over child processes.
func Run(ctx context.Context, target Target, w Workload, progress func(time.Duration, uint64)) (*Result, error) {
	w, err := checked(w, target)
	if err != nil {
		return nil, err
	}
	r, err := newRun(w, target, part{Hi: w.Clients, Stalled: w.Stalled})
	if err != nil {
		return nil, err
	}
	if progress != nil {
		r.progress = func(elapsed time.Duration, delivered, _ uint64) { progress(elapsed, delivered) }
	}
	res := begin(ctx, target, w)

	connectStart := time.Now()
	if err := r.connect(ctx); err != nil {
		r.closeAll()
		return nil, err
	}
	res.ConnectSeconds = time.Since(connectStart).Seconds()

	start := time.Now().Add(settle)
	var srv serverWatch
	h, err := r.measure(ctx, start, res, func(sent []uint64) ([]uint64, error) { return sent, nil }, &srv,
		func() error { srv.endSample(r.target); return nil })
	if err != nil {
		return nil, err
	}
	srv.sampleAfter(ctx, w, target, res)
	finish(res, h, srv)
	return res, nil
}

// checked returns w with its defaults filled once it and target can run.
func checked(w Workload, target Target) (Workload, error) {
	w = w.withDefaults()
	if err := w.Validate(); err != nil {
		return w, err
	}
	if len(target.Addrs) == 0 {
		return w, errors.New("bench: no target address")
	}
	return w, nil
}

// begin starts the result of a run of w on target with what is measured
// before any client connects: the server's idle RSS and, with --after,
// the first latency probe.
func begin(ctx context.Context, target Target, w Workload) *Result {
	res := &Result{Target: target.Name, Workload: w}
	res.ServerRSSIdleBytes = sampleProcs(target.PIDs).rss
	if w.After > 0 {
		res.ProbeBefore = runProbe(ctx, target, w.Proxy)
	}
	return res
}

// settle is the pause between the last connect and the first line sent;
// the readers start and the window is fixed before it.
const settle = 300 * time.Millisecond

// newRun checks the file limit for p and prepares its state.
func newRun(w Workload, target Target, p part) (*run, error) {
	limit, err := sysutil.RaiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("bench: file limit: %w", err)
	}
	if need := uint64(p.Hi - p.Lo + p.Stalled + sysutil.FDReserve); need > limit {
		return nil, fmt.Errorf("bench: %d clients need %d open files but one process may open only %d (hard limit); "+
			"use --workers to spread them over more generator processes", p.Hi-p.Lo+p.Stalled, need, limit)
	}
	r := &run{w: w, target: target, part: p, sent: make([]atomic.Uint64, w.Senders), cut: make([]atomic.Bool, w.Senders),
		shut: make([]atomic.Bool, w.Senders), acked: make([]atomic.Uint64, w.Senders)}
	for i := range r.hists {
		r.hists[i].h = hdrhistogram.New(histMin, histMax, 3)
	}
	return r, nil
}

// serverWatch holds the samples of the target's processes around the
// measured time. Owned by the goroutine that runs the measurement.
type serverWatch struct {
	before, after procSample   // nodes, at the first line and after the drain
	natsBefore    procSample   // NATS servers, at the first line
	natsAfter     procSample   // NATS servers, after the drain
	nodesBefore   []procSample // each node at the first line
	nodesAfter    []procSample // each node after the drain
}

// startSample samples the target when the first line is sent.
func (sw *serverWatch) startSample(t Target, res *Result) {
	sw.nodesBefore = sampleEach(t.PIDs) // one reading of each: the sum and the parts agree
	sw.before = sumSamples(sw.nodesBefore)
	sw.natsBefore = sampleProcs(t.NATSPIDs)
	res.ServerRSSConnectedBytes = sw.before.rss
}

// endSample samples the target after the drain.
func (sw *serverWatch) endSample(t Target) {
	sw.nodesAfter = sampleEach(t.PIDs)
	sw.after = sumSamples(sw.nodesAfter)
	sw.natsAfter = sampleProcs(t.NATSPIDs)
}

// sampleAfter waits w.After once the clients left, samples the servers'
// RSS and probes their latency.
func (sw *serverWatch) sampleAfter(ctx context.Context, w Workload, t Target, res *Result) {
	if w.After <= 0 {
		return
	}
	select {
	case <-time.After(w.After):
	case <-ctx.Done():
		return
	}
	if len(t.PIDs) > 0 {
		res.ServerRSSAfterBytes = sampleProcs(t.PIDs).rss
	}
	res.ProbeAfter = runProbe(ctx, t, w.Proxy)
}

// measure runs the connected clients: readers first, senders from start,
// then the drain; it fills res with this process's account and returns its
// latency histogram. totals turns the counts of lines this process's
// senders wrote into every sender's: the same counts in one process, the
// parent's sum in a worker. srv, when not nil, samples the target when
// the first line is sent. drained runs once the drain ended and before any
// socket is closed, so that the server's end sample (taken there, or by
// the parent of workers) never counts the work of closing connections.
func (r *run) measure(ctx context.Context, start time.Time, res *Result,
	totals func(sent []uint64) ([]uint64, error), srv *serverWatch, drained func() error) (*hdrhistogram.Histogram, error) {
	w := r.w
	r.start = start.UnixNano()
	r.winFrom = start.Add(w.Warmup).UnixNano()
	r.winTo = start.Add(w.Warmup + w.Duration).UnixNano()
	var readerWG sync.WaitGroup
	stopReaders := make(chan struct{})
	readErrs := make([]error, readers, readers+w.SlowReaders)
	for k := range readers {
		readerWG.Add(1)
		go func() { defer readerWG.Done(); readErrs[k] = r.read(k, stopReaders) }()
	}
	for _, c := range r.conns {
		if c.slow {
			readErrs = append(readErrs, nil)
			k := len(readErrs) - 1
			readerWG.Add(1)
			go func() { defer readerWG.Done(); readErrs[k] = r.readSlowly(c, stopReaders) }()
		}
	}
	endReaders := func() error {
		close(stopReaders)
		readerWG.Wait()
		res.StalledCut = r.stalledCut()
		r.closeAll()
		if err := errors.Join(readErrs...); err != nil {
			return fmt.Errorf("bench: reader: %w", err)
		}
		return nil
	}
	time.Sleep(time.Until(start))
	if srv != nil {
		srv.startSample(r.target, res)
	}

	genBefore := selfCPU()
	var senders sync.WaitGroup
	sendUntil := time.Unix(0, r.winTo)
	if w.Burst > 0 {
		sendUntil = sendUntil.Add(w.Drain) // a burst is written whole, however long the server holds it back
	}
	sendCtx, cancelSend := context.WithDeadline(ctx, sendUntil)
	lo, hi := r.part.senders(w)
	for s := lo; s < hi; s++ {
		senders.Add(1)
		go func() { defer senders.Done(); r.send(sendCtx, s, start) }()
	}
	if hi > lo || w.Senders == 0 {
		// A burst (or cut senders) may end early, and with no sender at all
		// there is nothing to wait for; a worker with no sender of its own
		// watches the whole window.
		go func() { senders.Wait(); cancelSend() }()
	}
	res.Timeline, res.SentTimeline = r.watch(sendCtx, start)
	senders.Wait()
	cancelSend()

	sent, err := totals(r.sentCounts())
	if err != nil {
		_ = endReaders()
		return nil, err
	}
	expected := r.expected(sent)
	drainStart := time.Now()
	for time.Since(drainStart) < w.Drain && r.received() < expected && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	res.DrainSeconds = time.Since(drainStart).Seconds()
	res.GeneratorCPUSeconds = (selfCPU() - genBefore).Seconds()
	if err := drained(); err != nil {
		_ = endReaders()
		return nil, err
	}
	if err := endReaders(); err != nil {
		return nil, err
	}
	return r.fill(res, sent, expected), nil
}

// finish derives the rates, percentiles and server figures of a run
// whose counts (summed over workers, if any) res holds.
func finish(res *Result, h *hdrhistogram.Histogram, srv serverWatch) {
	w := res.Workload
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e6 }
	res.LatencyMs = Latency{P50: ms(50), P90: ms(90), P99: ms(99), P999: ms(99.9), Max: float64(h.Max()) / 1e6}
	res.SentPerSec = float64(res.LinesSent) / (w.Warmup + w.Duration).Seconds()
	res.SentMBPerSec = res.SentPerSec * float64(w.Size+1) / 1e6
	slices.Sort(res.SlowCutAfterSeconds)
	if n := len(res.SlowCutAfterSeconds); n > 0 {
		res.SlowCutLastSeconds = res.SlowCutAfterSeconds[n-1]
	}
	if w.SlowReaders > 0 && res.SlowReadersCut == w.SlowReaders {
		res.SentPerSecAfterCut, res.SentAfterCutSeconds = rateAfter(res.SentTimeline, res.SlowCutLastSeconds+1)
	}
	res.DeliveredPerSec = float64(res.InWindowDeliveries) / w.Duration.Seconds()
	res.DeliveredMBPerSec = res.DeliveredPerSec * float64(w.Size+shard.MaxFrameOverhead) / 1e6 // payload, id, ':' and CRLF
	res.AskedDeliveriesPerSec = w.Rate * float64(w.Clients-1)
	if srv.after.hwm == 0 && srv.after.cpu == 0 {
		return // no server processes known
	}
	// CPU from the first line sent to the end of the drain, over every
	// delivery of that time (warm-up included).
	res.ServerCPUSeconds = srv.after.cpu.Seconds() - srv.before.cpu.Seconds()
	res.ServerPeakRSSBytes = srv.after.hwm
	if res.Received > 0 {
		res.ServerCPUMicrosPerDelivery = res.ServerCPUSeconds * 1e6 / float64(res.Received)
	}
	if w.Clients > 0 && res.ServerRSSConnectedBytes > res.ServerRSSIdleBytes {
		res.ServerBytesPerConn = float64(res.ServerRSSConnectedBytes-res.ServerRSSIdleBytes) / float64(w.Clients)
	}
	if w.Clients > 0 {
		res.ServerPeakBytesPerConn = float64(srv.after.hwm) / float64(w.Clients)
	}
	if len(srv.nodesAfter) > 1 {
		for i, n := range srv.nodesAfter {
			res.Nodes = append(res.Nodes, ProcFigures{PeakRSSBytes: n.hwm, CPUSeconds: (n.cpu - srv.nodesBefore[i].cpu).Seconds()})
		}
	}
	if srv.natsAfter.hwm > 0 {
		res.NATSPeakRSSBytes = srv.natsAfter.hwm
		res.NATSCPUSeconds = srv.natsAfter.cpu.Seconds() - srv.natsBefore.cpu.Seconds()
	}
}

// connect dials every client, ConnectConcurrency at a time, moving on to
// the next loopback source address when one runs out of ephemeral ports.
func (r *run) connect(ctx context.Context) error {
	p := r.part
	r.conns = make([]*conn, p.Hi-p.Lo)
	var (
		next   atomic.Int64
		source atomic.Int32 // 0: let the kernel choose; k: 127.0.0.(k+1)
		mu     sync.Mutex
		first  error
		wg     sync.WaitGroup
	)
	source.Store(p.Source)
	next.Store(int64(p.Lo))
	for range min(r.w.ConnectConcurrency, p.Hi-p.Lo) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= p.Hi || ctx.Err() != nil {
					return
				}
				fd, err := r.dial(ctx, i, &source)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("bench: connect client %d of %d: %w", i+1, r.w.Clients, err)
					}
					mu.Unlock()
					next.Store(int64(p.Hi)) // stop the others
					return
				}
				r.conns[i-p.Lo] = &conn{idx: i, fd: fd, ackFor: r.ackFor(i), tally: NewTally(r.w.Senders), slow: r.w.isSlow(i)}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		return first
	}
	for i := range p.Stalled {
		fd, err := r.dial(ctx, p.Lo+i, &source) // spread over the targets like the clients
		if err != nil {
			return fmt.Errorf("bench: connect stalled client %d of %d: %w", i+1, p.Stalled, err)
		}
		r.stalled = append(r.stalled, fd)
	}
	return nil
}

// stalledCut counts the stalled clients whose connection the server has
// closed (or reset): TCP no longer calls them established.
func (r *run) stalledCut() int {
	n := 0
	for _, fd := range r.stalled {
		if !established(fd) {
			n++
		}
	}
	return n
}

func (r *run) dial(ctx context.Context, i int, source *atomic.Int32) (int, error) {
	addr := r.target.Addrs[i%len(r.target.Addrs)]
	if r.w.isWS(i) {
		addr = r.w.wsAddr(i)
	}
	sa, family, err := sockaddr(addr)
	if err != nil {
		return -1, err
	}
	for {
		src := source.Load()
		fd, err := dialRaw(ctx, sa, family, src, r.w.RcvBuf)
		if errors.Is(err, syscall.EADDRNOTAVAIL) && bindsSource && src < 250 {
			source.CompareAndSwap(src, src+1) // ports used up: next source address
			continue
		}
		if err == nil && r.w.Proxy != "" {
			if err = sendProxyHeader(ctx, fd, r.w.Proxy); err != nil {
				_ = unix.Close(fd)
				return -1, err
			}
		}
		if err == nil && r.w.isWS(i) {
			if err = wsHandshake(ctx, fd, addr); err != nil {
				_ = unix.Close(fd)
				return -1, err
			}
		}
		return fd, err
	}
}

// closeAll closes every socket. Runs after the readers and senders end, so
// no descriptor number is reused under them.
func (r *run) closeAll() {
	for _, c := range r.conns {
		if c != nil {
			_ = unix.Close(c.fd)
		}
	}
	for _, fd := range r.stalled {
		_ = unix.Close(fd)
	}
}

// ackFor returns the sender whose lines connection i acknowledges, or -1.
func (r *run) ackFor(i int) int {
	for s := 0; s < r.w.Senders; s++ {
		if r.witness(s) == i {
			return s
		}
	}
	return -1
}

// witness is the connection whose reads acknowledge sender s's lines.
func (r *run) witness(s int) int { return (s + 1) % r.w.Clients }

// read is reader goroutine k: it owns every connection i with
// i % readers == k (but the slow readers) and reads them through its own
// readySet until stop closes or all of them have ended.
func (r *run) read(k int, stop <-chan struct{}) error {
	var mine []*conn
	for i := k; i < len(r.conns); i += readers {
		if c := r.conns[i]; !c.slow { // a slow reader is paced by its own goroutine
			mine = append(mine, c)
		}
	}
	set, err := newReadySet(mine)
	if err != nil {
		return err
	}
	defer set.close()
	buf := make([]byte, r.w.ReadBuffer)
	samples := make([]int64, 0, sampleFlush)
	open := len(mine)
	defer func() { r.flushSamples(k, samples) }()
	for open > 0 {
		select {
		case <-stop:
			return nil
		default:
		}
		ready, err := set.wait(50 * time.Millisecond)
		if err != nil {
			return err
		}
		now := time.Now().UnixNano() // one clock read per wake-up, not per line
		for _, c := range ready {
			if c.done {
				continue
			}
			samples, _ = r.readOnce(c, buf, len(buf), now, samples)
			if c.done {
				open--
				set.drop(c)
			}
		}
	}
	return nil
}

// readOnce reads what connection c has, at most limit bytes, and
// accounts for its whole lines (or, for a WebSocket client, its whole
// frames); it returns the bytes read. Runs on c's reader goroutine.
func (r *run) readOnce(c *conn, buf []byte, limit int, now int64, samples []int64) ([]int64, int) {
	data, n := r.readCarried(c, buf, limit, now)
	if n == 0 {
		return samples, 0
	}
	unit := "line"
	if r.w.isWS(c.idx) {
		samples, data = r.accountFrames(c, data, now, samples)
		unit = "frame"
	} else {
		samples, data = r.accountLines(c, data, now, samples)
	}
	if len(data) > len(buf)/2 {
		c.err, c.done = fmt.Errorf("bench: %s longer than half the read buffer", unit), true
	}
	c.carry = append(c.carry[:0], data...)
	c.received.Store(c.tally.Received)
	c.readBytes += uint64(n)
	return samples, n
}

// readCarried reads at most limit bytes of c's socket into buf after
// the bytes carried from its last read, and returns both and how many
// were read: 0 when the socket had nothing or c ended (then marked).
func (r *run) readCarried(c *conn, buf []byte, limit int, now int64) ([]byte, int) {
	carried := copy(buf, c.carry)
	n, err := unix.Read(c.fd, buf[carried:carried+min(limit, len(buf)-carried)])
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		return nil, 0
	case err != nil:
		r.end(c, now, os.NewSyscallError("read", err))
		return nil, 0
	case n == 0:
		r.end(c, now, nil)
		return nil, 0
	}
	return buf[:carried+n], n
}

// accountLines accounts for every whole line at the front of data and
// returns what is left after them.
func (r *run) accountLines(c *conn, data []byte, now int64, samples []int64) ([]int64, []byte) {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return samples, data
		}
		samples = r.account(c, data[:i], now, samples)
		data = data[i+1:]
	}
}

// end marks c ended by the server (EOF or a read error at now). Runs on
// c's reader goroutine.
func (r *run) end(c *conn, now int64, err error) {
	if c.slow && (errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)) {
		err = nil // how the server cuts a slow reader: counted as a cut, not a read error
	}
	c.err, c.done = err, true
	if c.cutAt == 0 {
		c.cutAt = now
	}
	// A sender that shut its side first was closed because it did, not cut.
	c.afterShut = c.idx < len(r.shut) && r.shut[c.idx].Load()
}

// account records one received line. Runs on c's reader goroutine.
func (r *run) account(c *conn, line []byte, now int64, samples []int64) []int64 {
	if k := len(line); k > 0 && line[k-1] == '\r' {
		line = line[:k-1]
	}
	colon := bytes.IndexByte(line, ':')
	sender, seq, sent, err := ParsePayload(line[colon+1:])
	if colon < 0 || err != nil {
		c.tally.Foreign++
		return samples
	}
	c.tally.Observe(sender, seq)
	if int(sender) == c.ackFor {
		r.acked[sender].Store(seq + 1)
	}
	if sent >= r.winFrom && sent < r.winTo {
		c.inWindow++
		samples = append(samples, max(now-sent, histMin))
		if len(samples) == cap(samples) {
			r.flushSamples(c.idx, samples)
			samples = samples[:0]
		}
	}
	return samples
}

func (r *run) flushSamples(idx int, samples []int64) {
	sh := &r.hists[idx%histShards]
	sh.mu.Lock()
	for _, v := range samples {
		_ = sh.h.RecordValue(min(v, histMax))
	}
	sh.mu.Unlock()
}

// send is sender s's goroutine: paced at Rate/Senders lines/s, or as fast
// as its in-flight window allows when Rate is 0.
func (r *run) send(ctx context.Context, s int, start time.Time) {
	fd := r.conns[s-r.part.Lo].fd
	buf := make([]byte, 0, 64<<10)
	lineLen := r.encodedLineLen(s) // a line and "\n", or a WebSocket frame (ws.go)
	var seq uint64
	var scratch []byte
	write := func(lines int) bool {
		now := time.Now().UnixNano()
		buf = buf[:0]
		for range lines {
			buf, scratch = r.appendLineFor(buf, scratch, uint32(s), seq, now)
			seq++
		}
		if n, err := writeCounted(ctx, fd, buf); err != nil {
			// The whole lines the socket took are sent: readers get them.
			// A partial last line is never completed, so never counted.
			seq -= uint64(lines - n/lineLen)
			r.sent[s].Store(seq)
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				r.cut[s].Store(true)
			}
			return false
		}
		r.sent[s].Store(seq)
		return true
	}
	maxLines := max(cap(buf)/lineLen, 1)

	if r.w.Rate > 0 {
		interval := time.Duration(float64(r.w.Senders) / r.w.Rate * float64(time.Second))
		// Spread the senders' phases evenly over one interval.
		next := start.Add(time.Duration(int64(interval) * int64(s) / int64(r.w.Senders)))
		for {
			if d := time.Until(next); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			if ctx.Err() != nil {
				return
			}
			// Catch up in one write if the schedule slipped.
			due := min(int(time.Since(next)/interval)+1, maxLines)
			if !write(due) {
				return
			}
			next = next.Add(time.Duration(due) * interval)
		}
	}

	if r.w.Burst > 0 {
		for written := 0; written < r.w.Burst; written += maxLines * lineLen {
			if ctx.Err() != nil || !write(min(maxLines, (r.w.Burst-written+lineLen-1)/lineLen)) {
				return // not written whole: not shut either
			}
		}
		if r.w.CloseWrite {
			r.shut[s].Store(true) // before the shutdown, so its reader never takes the close for a cut
			if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
				r.shut[s].Store(false)
				r.cut[s].Store(true) // the server had closed it already
			}
		}
		return
	}
	for r.w.Blast && ctx.Err() == nil {
		if !write(maxLines) {
			return
		}
	}
	for ctx.Err() == nil {
		room := r.w.Window - int(seq-r.acked[s].Load())
		if room <= 0 {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		if !write(min(room, maxLines)) {
			return
		}
	}
}

// watch samples the delivered and sent rates once a second until ctx
// ends, reports them to the progress callback, and returns the samples
// (deliveries/s, lines sent/s).
func (r *run) watch(ctx context.Context, start time.Time) (delivered, sent []float64) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastDelivered, lastSent uint64
	for {
		select {
		case <-ctx.Done():
			return delivered, sent
		case <-t.C:
			d, s := r.received(), r.sentTotal()
			delivered = append(delivered, float64(d-lastDelivered))
			sent = append(sent, float64(s-lastSent))
			if r.progress != nil {
				r.progress(time.Since(start), d-lastDelivered, s-lastSent)
			}
			lastDelivered, lastSent = d, s
		}
	}
}

// rateAfter is the mean of the per-second samples from second from (since
// the first line) to the end, and how many seconds that is; 0, 0 when
// none is left.
func rateAfter(timeline []float64, from float64) (float64, int) {
	first := int(math.Ceil(from))
	if first >= len(timeline) {
		return 0, 0
	}
	sum := 0.0
	for _, v := range timeline[first:] {
		sum += v
	}
	return sum / float64(len(timeline)-first), len(timeline) - first
}

// received is the deliveries to this process's clients so far, slow
// readers apart.
func (r *run) received() uint64 {
	var n uint64
	for _, c := range r.conns {
		if !c.slow {
			n += c.received.Load()
		}
	}
	return n
}

// sentTotal is the lines this process's senders have written so far.
func (r *run) sentTotal() uint64 {
	var n uint64
	for s := range r.sent {
		n += r.sent[s].Load()
	}
	return n
}

// sentCounts returns how many lines each sender here has written (zero
// for the senders of other workers).
func (r *run) sentCounts() []uint64 {
	sent := make([]uint64, len(r.sent))
	for s := range r.sent {
		sent[s] = r.sent[s].Load()
	}
	return sent
}

// expected is how many deliveries this process's clients should get: each
// line sent, once per client here but its sender and the slow readers.
func (r *run) expected(sent []uint64) uint64 {
	fast := uint64(0)
	for _, c := range r.conns {
		if !c.slow {
			fast++
		}
	}
	var n uint64
	for s, k := range sent {
		to := fast
		if s >= r.part.Lo && s < r.part.Hi {
			to--
		}
		n += k * to
	}
	return n
}

// fill sums the readers' accounts into res, given every sender's count of
// lines sent, and returns the merged latency histogram. Runs after the
// readers end.
func (r *run) fill(res *Result, sent []uint64, expected uint64) *hdrhistogram.Histogram {
	for _, k := range sent {
		res.LinesSent += k
	}
	res.DeliveriesExpected = expected
	for _, c := range r.conns {
		self := -1
		if c.idx < r.w.Senders {
			self = c.idx
		}
		res.Duplicates += c.tally.Duplicates
		res.Foreign += c.tally.Foreign
		switch {
		case c.slow:
			res.SlowReceived += c.tally.Received
			res.SlowLost += c.tally.Missing(sent, self)
			if c.readFor > 0 {
				res.SlowReadRates = append(res.SlowReadRates, float64(c.readBytes)/c.readFor.Seconds())
			}
			if c.cutAt != 0 {
				res.SlowReadersCut++
				res.SlowCutAfterSeconds = append(res.SlowCutAfterSeconds, float64(c.cutAt-r.start)/1e9)
			}
		default:
			res.Received += c.tally.Received
			res.Lost += c.tally.Missing(sent, self)
			res.LostGaps += c.tally.Gaps
			res.InWindowDeliveries += c.inWindow
		}
		if c.done && c.idx >= r.w.Senders && !c.slow {
			res.ReadersCut++
		}
		if c.err != nil && res.ReadErrors == 0 {
			res.FirstReadError = c.err.Error()
		}
		if c.err != nil {
			res.ReadErrors++
		}
	}
	lo, hi := r.part.senders(r.w)
	for s := lo; s < hi; s++ {
		if c := r.conns[s-r.part.Lo]; r.cut[s].Load() || (c.done && !c.afterShut) {
			res.SendersCut++
		}
		if r.shut[s].Load() {
			res.SendersClosed++
		}
	}
	h := hdrhistogram.New(histMin, histMax, 3)
	for i := range r.hists {
		h.Merge(r.hists[i].h)
	}
	return h
}
