package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fanout/fanout/internal/sysutil"
)

// One process may hold fewer sockets than a large run needs (every process
// here is capped at 20 000 open files), so RunWorkers spreads the clients
// over child processes of `fanout bench` in the "worker" role, each under
// its own limit, each driving a contiguous range of client indices from
// its own loopback source address. Sender s is client s in every process,
// so sender identities are unique across workers and every reader checks
// every sender's order wherever it runs.
//
// Parent and worker speak JSON lines over the worker's stdin and stdout:
//
//	parent → worker  plan                 which clients, what workload
//	worker → parent  connected | error
//	parent → worker  start                the common start time
//	worker → parent  tick …               deliveries and lines sent in each second (progress)
//	worker → parent  sent                 lines its senders wrote
//	parent → worker  totals               every sender's count, summed
//	worker → parent  drained              the drain ended; no socket closed yet
//	parent → worker  sampled              the servers' end sample is taken
//	worker → parent  report               its counts and latency histogram
//
// A worker ends when its stdin closes: the parent stops every worker when
// the run ends, fails (any worker's error) or is interrupted.

// maxClientsPerWorker keeps a worker well under a 20 000-file limit.
const maxClientsPerWorker = 19000

// msgKind names a workerMsg: one step of the protocol above.
type msgKind string

const (
	msgPlan      msgKind = "plan"      // parent → worker: Plan
	msgConnected msgKind = "connected" // worker → parent: its clients are connected
	msgError     msgKind = "error"     // worker → parent: Error, and it exits
	msgStart     msgKind = "start"     // parent → worker: Start
	msgTick      msgKind = "tick"      // worker → parent: Tick and Sent, each second
	msgSent      msgKind = "sent"      // worker → parent: Counts, its senders' lines
	msgTotals    msgKind = "totals"    // parent → worker: Counts, every sender's lines
	msgDrained   msgKind = "drained"   // worker → parent: the drain ended, no socket closed
	msgSampled   msgKind = "sampled"   // parent → worker: the servers' end sample is taken
	msgReport    msgKind = "report"    // worker → parent: Report and Hist
)

// workerMsg is one line either way.
type workerMsg struct {
	Kind   msgKind                `json:"kind"`
	Plan   *workerPlan            `json:"plan,omitempty"`
	Start  int64                  `json:"start,omitempty"`  // Unix nanos
	Counts []uint64               `json:"counts,omitempty"` // sent, totals
	Tick   uint64                 `json:"tick,omitempty"`   // deliveries in the last second
	Sent   uint64                 `json:"sent,omitempty"`   // lines sent in the last second (with tick)
	Report *Result                `json:"report,omitempty"`
	Hist   *hdrhistogram.Snapshot `json:"hist,omitempty"`
	Error  string                 `json:"error,omitempty"`
}

// workerPlan is one worker's share of a run.
type workerPlan struct {
	Workload Workload `json:"workload"`
	Addrs    []string `json:"addrs"`
	Part     part     `json:"part"`
}

// WorkersFor returns how many worker processes w needs: 0 when its clients
// fit in this process under the open-file limit, else enough that each
// holds at most maxClientsPerWorker (and stays under the limit).
func WorkersFor(w Workload) int {
	limit, err := sysutil.RaiseFileLimit()
	if err != nil || limit <= sysutil.FDReserve {
		return 0 // Run reports the limit
	}
	room := int(limit) - sysutil.FDReserve
	total := w.Clients + w.Stalled
	if total <= room {
		return 0
	}
	per := min(room, maxClientsPerWorker)
	return (total + per - 1) / per
}

// plans splits w's clients and stalled clients evenly over n workers.
func plans(w Workload, addrs []string, n int) []workerPlan {
	out := make([]workerPlan, n)
	lo := 0
	for i := range n {
		size := w.Clients / n
		if i < w.Clients%n {
			size++
		}
		stalled := w.Stalled / n
		if i < w.Stalled%n {
			stalled++
		}
		out[i] = workerPlan{Workload: w, Addrs: addrs, Part: part{Lo: lo, Hi: lo + size, Stalled: stalled, Source: int32(i + 1)}}
		lo += size
	}
	return out
}

// checkSplit refuses a workload whose senders cannot work apart: an
// unpaced sender with a window waits for acknowledgements read by the next
// client, which must be in the same worker.
func checkSplit(w Workload, first workerPlan) error {
	if w.windowed() && w.Senders >= first.Part.Hi {
		return fmt.Errorf("--senders %d with --rate 0 and a window need every sender and the next client in the first worker (%d clients); "+
			"use fewer senders, --rate, --blast or fewer --workers", w.Senders, first.Part.Hi)
	}
	return nil
}

// worker is a child the parent drives.
type worker struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	enc  *json.Encoder
	done chan struct{} // closed when the process has exited
}

// inbox is a message from worker i, or its failure.
type inbox struct {
	i   int
	msg workerMsg
	err error
}

// RunWorkers drives target with w from n worker processes and merges
// their measurements into one result.
func RunWorkers(ctx context.Context, target Target, w Workload, n int, progress func(time.Duration, uint64)) (*Result, error) {
	w, err := checked(w, target)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > w.Clients {
		return nil, fmt.Errorf("--workers must be 1..clients (%d), got %d", w.Clients, n)
	}
	ps := plans(w, target.Addrs, n)
	if err := checkSplit(w, ps[0]); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := begin(ctx, target, w)
	res.Workers = n

	connectStart := time.Now()
	f, err := startFleet(ctx, ps, progress)
	defer f.stop()
	if err != nil {
		return nil, err
	}
	if _, err := f.await(msgConnected); err != nil {
		return nil, err
	}
	res.ConnectSeconds = time.Since(connectStart).Seconds()
	h, srv, err := f.measure(target, res)
	if err != nil {
		return nil, err
	}
	f.stop()
	srv.sampleAfter(ctx, w, target, res)
	finish(res, h, srv)
	return res, nil
}

// fleet is the parent's side of a run over worker processes: the workers,
// the messages they send, and the per-second samples their ticks add up
// to. Owned by the goroutine that runs RunWorkers.
type fleet struct {
	ctx          context.Context
	workers      []*worker
	inboxes      chan inbox    // every worker's relay goroutine sends here
	quit         chan struct{} // closed by stop: nobody reads inboxes any more
	stopped      bool
	progress     func(time.Duration, uint64) // nil = none
	timeline     []float64                   // deliveries in each second, summed over workers
	sentTimeline []float64                   // lines sent in each second, summed over workers
	tickSeen     []int                       // per worker: ticks received
}

// startFleet starts one worker per plan and hands each its plan. The
// fleet it returns, even with an error, holds every worker that started:
// its stop must run.
func startFleet(ctx context.Context, ps []workerPlan, progress func(time.Duration, uint64)) (*fleet, error) {
	f := &fleet{ctx: ctx, inboxes: make(chan inbox, len(ps)*4), quit: make(chan struct{}), progress: progress,
		tickSeen: make([]int, len(ps))}
	for i, p := range ps {
		wk, err := startWorker(i, p, f.inboxes, f.quit)
		if wk != nil { // started, even if its plan could not be sent: stop must end it
			f.workers = append(f.workers, wk)
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// measure runs the protocol from the common start to every worker's
// report: it samples the target around the measured time, fills res with
// the merged counts and returns the merged latency histogram.
func (f *fleet) measure(target Target, res *Result) (*hdrhistogram.Histogram, serverWatch, error) {
	var srv serverWatch
	start := time.Now().Add(settle)
	if err := f.tell(workerMsg{Kind: msgStart, Start: start.UnixNano()}); err != nil {
		return nil, srv, err
	}
	time.Sleep(time.Until(start))
	srv.startSample(target, res)
	sents, err := f.await(msgSent)
	if err != nil {
		return nil, srv, err
	}
	totals := make([]uint64, res.Workload.Senders)
	for _, m := range sents {
		for s, k := range m.Counts {
			if s < len(totals) {
				totals[s] += k
			}
		}
	}
	if err := f.tell(workerMsg{Kind: msgTotals, Counts: totals}); err != nil {
		return nil, srv, err
	}
	if _, err := f.await(msgDrained); err != nil {
		return nil, srv, err
	}
	srv.endSample(target) // before any worker closes its sockets
	if err := f.tell(workerMsg{Kind: msgSampled}); err != nil {
		return nil, srv, err
	}
	reports, err := f.await(msgReport)
	if err != nil {
		return nil, srv, err
	}
	h := hdrhistogram.New(histMin, histMax, 3)
	for i, m := range reports {
		if m.Report == nil || m.Hist == nil {
			return nil, srv, fmt.Errorf("bench: worker %d sent an empty report", i+1)
		}
		merge(res, m.Report)
		h.Merge(hdrhistogram.Import(m.Hist))
	}
	for _, k := range totals {
		res.LinesSent += k
	}
	res.Timeline, res.SentTimeline = f.timeline, f.sentTimeline
	return h, srv, nil
}

// await collects one message of kind from every worker; the ticks that
// come on the way go to onTick.
func (f *fleet) await(kind msgKind) ([]workerMsg, error) {
	got := make([]workerMsg, len(f.workers))
	for left := len(f.workers); left > 0; {
		select {
		case <-f.ctx.Done():
			return nil, f.ctx.Err()
		case m := <-f.inboxes:
			switch {
			case m.err != nil:
				return nil, fmt.Errorf("bench: worker %d: %w", m.i+1, m.err)
			case m.msg.Kind == msgError:
				return nil, fmt.Errorf("bench: worker %d: %s", m.i+1, m.msg.Error)
			case m.msg.Kind == msgTick:
				f.onTick(m)
			case m.msg.Kind == kind:
				got[m.i] = m.msg
				left--
			default:
				return nil, fmt.Errorf("bench: worker %d sent %q while %q was awaited", m.i+1, m.msg.Kind, kind)
			}
		}
	}
	return got, nil
}

// onTick adds worker m.i's k-th second to the timelines, and reports the
// second once every worker's has come.
func (f *fleet) onTick(m inbox) {
	k := f.tickSeen[m.i]
	f.tickSeen[m.i]++
	for len(f.timeline) <= k {
		f.timeline = append(f.timeline, 0)
		f.sentTimeline = append(f.sentTimeline, 0)
	}
	f.timeline[k] += float64(m.msg.Tick)
	f.sentTimeline[k] += float64(m.msg.Sent)
	if f.progress != nil && allAtLeast(f.tickSeen, k+1) {
		f.progress(time.Duration(k+1)*time.Second, uint64(f.timeline[k]))
	}
}

// tell sends m to every worker.
func (f *fleet) tell(m workerMsg) error {
	for i, wk := range f.workers {
		if err := wk.enc.Encode(m); err != nil {
			return fmt.Errorf("bench: worker %d: %w", i+1, err)
		}
	}
	return nil
}

// stop ends every worker: it closes each one's stdin, which ends it, and
// kills one that has not exited within a few seconds. Later calls do
// nothing.
func (f *fleet) stop() {
	if f.stopped {
		return
	}
	f.stopped = true
	close(f.quit)
	for _, wk := range f.workers {
		_ = wk.in.Close()
	}
	for _, wk := range f.workers {
		awaitExit(wk.cmd.Process, wk.done, 5*time.Second)
	}
}

func allAtLeast(v []int, k int) bool {
	for _, x := range v {
		if x < k {
			return false
		}
	}
	return true
}

// merge adds one worker's counts to res.
func merge(res, part *Result) {
	res.DrainSeconds = max(res.DrainSeconds, part.DrainSeconds)
	res.DeliveriesExpected += part.DeliveriesExpected
	res.Received += part.Received
	res.Lost += part.Lost
	res.LostGaps += part.LostGaps
	res.Duplicates += part.Duplicates
	res.Foreign += part.Foreign
	if res.FirstReadError == "" {
		res.FirstReadError = part.FirstReadError
	}
	res.ReadErrors += part.ReadErrors
	res.ReadersCut += part.ReadersCut
	res.SendersCut += part.SendersCut
	res.SendersClosed += part.SendersClosed
	res.StalledCut += part.StalledCut
	res.SlowReadersCut += part.SlowReadersCut
	res.SlowCutAfterSeconds = append(res.SlowCutAfterSeconds, part.SlowCutAfterSeconds...)
	res.SlowReceived += part.SlowReceived
	res.SlowLost += part.SlowLost
	res.SlowReadRates = append(res.SlowReadRates, part.SlowReadRates...)
	res.InWindowDeliveries += part.InWindowDeliveries
	res.GeneratorCPUSeconds += part.GeneratorCPUSeconds
}

// startWorker starts worker i, hands it its plan and relays what it says
// to inboxes until quit closes.
func startWorker(i int, p workerPlan, inboxes chan<- inbox, quit <-chan struct{}) (*worker, error) {
	cmd, err := roleCommand("worker", []string{"bench"})
	if err != nil {
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start worker %d: %w", i+1, err)
	}
	wk := &worker{cmd: cmd, in: in, enc: json.NewEncoder(in), done: make(chan struct{})}
	go func() {
		dec := json.NewDecoder(out)
		reported := false
		for {
			var m workerMsg
			if err := dec.Decode(&m); err != nil {
				waitErr := cmd.Wait()
				close(wk.done)
				if reported && waitErr == nil {
					return // done, as it should be
				}
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("exited before its report (%v)", waitErr)
				}
				select {
				case inboxes <- inbox{i: i, err: err}:
				case <-quit:
				}
				return
			}
			reported = reported || m.Kind == msgReport
			select {
			case inboxes <- inbox{i: i, msg: m}:
			case <-quit: // read on to the end, so the worker never blocks writing
			}
		}
	}()
	if err := wk.enc.Encode(workerMsg{Kind: msgPlan, Plan: &p}); err != nil {
		return wk, fmt.Errorf("bench: worker %d: %w", i+1, err)
	}
	return wk, nil
}

// runWorker is the "worker" role: it drives its plan's clients as the
// parent says, on stdin and stdout.
func runWorker(stdin io.Reader, stdout, stderr io.Writer) int {
	var mu sync.Mutex
	enc := json.NewEncoder(stdout)
	say := func(m workerMsg) {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(m); err != nil {
			fmt.Fprintf(stderr, "fanout bench worker: %s message: %v\n", m.Kind, err)
		}
	}
	fail := func(err error) int {
		say(workerMsg{Kind: msgError, Error: err.Error()})
		return 1
	}
	dec := json.NewDecoder(stdin)
	var first workerMsg
	if err := dec.Decode(&first); err != nil || first.Plan == nil {
		return fail(fmt.Errorf("no plan on stdin: %v", err))
	}
	p := first.Plan
	// Ctrl-C reaches the whole process group; the parent stops us too.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan workerMsg, 4)
	go func() {
		defer cancel() // stdin closed: the parent is done with us
		for {
			var m workerMsg
			if err := dec.Decode(&m); err != nil {
				return
			}
			msgs <- m
		}
	}()
	next := func(kind msgKind) (workerMsg, error) {
		select {
		case <-ctx.Done():
			return workerMsg{}, ctx.Err()
		case m := <-msgs:
			if m.Kind != kind {
				return m, fmt.Errorf("got %q, want %q", m.Kind, kind)
			}
			return m, nil
		}
	}

	r, err := newRun(p.Workload, Target{Addrs: p.Addrs}, p.Part)
	if err != nil {
		return fail(err)
	}
	r.progress = func(_ time.Duration, delivered, sent uint64) {
		say(workerMsg{Kind: msgTick, Tick: delivered, Sent: sent})
	}
	if err := r.connect(ctx); err != nil {
		r.closeAll()
		return fail(err)
	}
	say(workerMsg{Kind: msgConnected})
	m, err := next(msgStart)
	if err != nil {
		r.closeAll()
		return fail(err)
	}
	res := &Result{}
	h, err := r.measure(ctx, time.Unix(0, m.Start), res, func(sent []uint64) ([]uint64, error) {
		say(workerMsg{Kind: msgSent, Counts: sent})
		m, err := next(msgTotals)
		return m.Counts, err
	}, nil, func() error {
		// The parent samples the servers once every worker has drained;
		// closing this worker's sockets waits for that.
		say(workerMsg{Kind: msgDrained})
		_, err := next(msgSampled)
		return err
	})
	if err != nil {
		return fail(err)
	}
	say(workerMsg{Kind: msgReport, Report: res, Hist: h.Export()})
	return 0
}
