package server

import (
	"runtime/debug"
	"time"
)

// Memory comes back after a crowd or a backlog is gone. Go returns freed
// heap to the OS only gradually, and pooled buffers (the fan-out's batches,
// gnet's inbound buffers) live until two garbage collections have passed;
// with no allocation after the clients left, those collections come only
// from the runtime's two-minute forced GC. So the reclaimer forces them
// once a large drop is seen, at most once per reclaimMinGap.
const (
	reclaimEvery   = time.Second
	reclaimMinGap  = 10 * time.Second
	reclaimLogDrop = 32 << 20 // a log that held this much more than it does now
	reclaimConns   = 1000     // or this many connections fewer (and half of the peak)
)

// sampleRates records the totals /varz's rates are worked out from.
func (s *Server) sampleRates() {
	st := s.fan.Stats()
	var bytesIn uint64
	s.loopsMu.Lock()
	for _, ls := range s.loops {
		bytesIn += ls.bytesIn.Load()
	}
	s.loopsMu.Unlock()
	s.rates.add(rateSample{at: time.Now(), linesIn: st.Frames, deliveries: st.Deliveries, bytesIn: bytesIn, bytesOut: st.BytesOut})
}

// reclaimMemory runs until stop closes; it also samples /varz's
// rates and reports suppressed log lines once a second. Runs on its own goroutine.
func (s *Server) reclaimMemory() {
	t := time.NewTicker(reclaimEvery)
	defer t.Stop()
	var (
		peakLog  int64
		peakOpen int64
		last     time.Time
	)
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.sampleRates()
		s.reportSuppressed()
		log := s.fan.Stats().LogBytes
		peakLog = max(peakLog, s.fan.TakePeakLogBytes())
		open := s.open.Load()
		peakOpen = max(peakOpen, open)
		logGone := peakLog-log >= reclaimLogDrop && log < peakLog/4
		connsGone := peakOpen-open >= reclaimConns && open < peakOpen/2
		if (!logGone && !connsGone) || time.Since(last) < reclaimMinGap {
			continue
		}
		start := time.Now()
		debug.FreeOSMemory() // moves pooled buffers to the pools' victim caches…
		debug.FreeOSMemory() // …and frees them, returning the pages
		s.log.Info("returned freed memory to the OS", "log_peak_bytes", peakLog, "log_bytes", log,
			"conns_peak", peakOpen, "conns", open, "took", time.Since(start).Round(time.Millisecond))
		peakLog, peakOpen, last = log, open, time.Now()
	}
}
