package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The latency probe (--after) asks what one lone line costs: two fresh
// clients, one writing a line every probeInterval, the other timing each
// from its send time to its arrival. It runs on the idle server before the
// load and --after the load's clients left, so a server that is slow to
// recover from a load shows it. Each probe takes about probeLines ×
// probeInterval.

const (
	probeLines    = 100
	probeInterval = 20 * time.Millisecond
	probeSize     = 64               // payload bytes per line
	probeJoin     = 5 * time.Second  // how long the receiver may take to be seen registered
	probeLinger   = 2 * time.Second  // how long the last lines may take to arrive
	probeSender   = 0                // sender field of the measured lines
	probeJoiner   = 1                // sender field of the lines that wait for the receiver to be registered
	probeReadBuf  = 64 << 10         // the receiver's read buffer
	probeMaxWait  = 30 * time.Second // bound on the whole probe
)

// runProbe probes t's first address and returns its account; a probe that
// could not run says why in Probe.Error (the run's other figures stand).
func runProbe(ctx context.Context, t Target, proxy string) *Probe {
	ctx, cancel := context.WithTimeout(ctx, probeMaxWait)
	defer cancel()
	p, err := probe(ctx, t.Addrs[0], proxy)
	if err != nil {
		p.Error = err.Error()
	}
	return p
}

// probe dials the receiver, then the sender; the sender writes joining
// lines until the receiver has one (the server has registered it), then
// probeLines measured ones, probeInterval apart.
func probe(ctx context.Context, addr, proxy string) (*Probe, error) {
	p := &Probe{}
	sa, family, err := sockaddr(addr)
	if err != nil {
		return p, fmt.Errorf("bench: probe: %w", err)
	}
	dial := func() (int, error) {
		fd, err := dialRaw(ctx, sa, family, 0, 0)
		if err == nil && proxy != "" {
			if err = sendProxyHeader(ctx, fd, proxy); err != nil {
				_ = unix.Close(fd)
			}
		}
		return fd, err
	}
	rfd, err := dial()
	if err != nil {
		return p, fmt.Errorf("bench: probe receiver: %w", err)
	}
	defer unix.Close(rfd)
	tv := unix.NsecToTimeval(ioSlice.Nanoseconds()) // its reads look at stop this often
	if err := unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return p, os.NewSyscallError("setsockopt SO_RCVTIMEO", err)
	}
	sfd, err := dial()
	if err != nil {
		return p, fmt.Errorf("bench: probe sender: %w", err)
	}
	defer unix.Close(sfd)

	var (
		mu        sync.Mutex
		latencies []time.Duration // guarded by mu
		joined    = make(chan struct{})
		stop      = make(chan struct{})
		readDone  = make(chan error, 1)
	)
	go func() { readDone <- probeReceive(rfd, stop, joined, &mu, &latencies) }()
	stopped := false
	endReceiver := func() error {
		if !stopped {
			close(stop)
			stopped = true
		}
		return <-readDone
	}
	defer func() {
		if !stopped {
			_ = endReceiver()
		}
	}()

	line := make([]byte, 0, probeSize+1)
	send := func(sender uint32, seq uint64) error {
		line = append(AppendPayload(line[:0], sender, seq, time.Now().UnixNano(), probeSize), '\n')
		return writeAll(ctx, sfd, line)
	}
	joinBy := time.Now().Add(probeJoin)
	for seq := uint64(0); ; seq++ {
		if err := send(probeJoiner, seq); err != nil {
			return p, fmt.Errorf("bench: probe: %w", err)
		}
		select {
		case <-joined:
		case <-time.After(probeInterval):
			if time.Now().Before(joinBy) {
				continue
			}
			return p, fmt.Errorf("bench: probe: the receiver got nothing within %s", probeJoin)
		case <-ctx.Done():
			return p, ctx.Err()
		}
		break
	}
	next := time.Now()
	for seq := range uint64(probeLines) {
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			return p, ctx.Err()
		}
		if err := send(probeSender, seq); err != nil {
			return p, fmt.Errorf("bench: probe: %w", err)
		}
		p.Lines++
		next = next.Add(probeInterval)
	}
	for end := time.Now().Add(probeLinger); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(latencies)
		mu.Unlock()
		if n >= p.Lines {
			break
		}
	}
	err = endReceiver()
	mu.Lock()
	defer mu.Unlock()
	p.Received = len(latencies)
	if len(latencies) > 0 {
		slices.Sort(latencies)
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		p.P50Ms = ms(latencies[nearestRank(len(latencies), 0.50)])
		p.P99Ms = ms(latencies[nearestRank(len(latencies), 0.99)])
		p.MaxMs = ms(latencies[len(latencies)-1])
	}
	return p, err
}

// nearestRank is the index of the q quantile of n sorted values.
func nearestRank(n int, q float64) int {
	i := int(q*float64(n)+0.999999) - 1
	return min(max(i, 0), n-1)
}

// probeReceive reads the probe's receiver until stop closes: it closes
// joined at the first joining line and appends each measured line's
// latency. A read times out every ioSlice (SO_RCVTIMEO) to look at stop.
func probeReceive(fd int, stop <-chan struct{}, joined chan<- struct{}, mu *sync.Mutex, latencies *[]time.Duration) error {
	buf := make([]byte, probeReadBuf)
	carried := 0
	seenJoin := false
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		n, err := unix.Read(fd, buf[carried:])
		now := time.Now().UnixNano()
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("bench: probe receiver: %w", os.NewSyscallError("read", err))
		case n == 0:
			return errors.New("bench: probe receiver: the server closed it")
		}
		data := buf[:carried+n]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			line := bytes.TrimSuffix(data[:i], []byte("\r"))
			data = data[i+1:]
			colon := bytes.IndexByte(line, ':')
			if colon < 0 {
				continue
			}
			sender, _, sent, err := ParsePayload(line[colon+1:])
			switch {
			case err != nil:
			case sender == probeJoiner && !seenJoin:
				seenJoin = true
				close(joined)
			case sender == probeSender:
				mu.Lock()
				*latencies = append(*latencies, time.Duration(now-sent))
				mu.Unlock()
			}
		}
		if len(data) == len(buf) {
			return errors.New("bench: probe receiver: a line longer than its buffer")
		}
		carried = copy(buf, data)
	}
}
