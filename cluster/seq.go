package cluster

import (
	"strconv"
	"strings"
)

// seqHeader carries "<incarnation>.<message number>.<lines before>": which
// run of the origin node published the message (a restart starts a new
// count), the message's number in that run from 0, and how many lines the
// origin had published in that run before this message.
const seqHeader = "Fanout-Seq"

// outSeq numbers what one node publishes. Owned by the publisher goroutine.
type outSeq struct {
	incarnation string // this run of the node, in base 36
	next        uint64 // number of the next message
	lines       uint64 // lines in the messages numbered so far
}

// stamp returns the header value for a message of lines lines and counts it.
// A message that then fails to publish keeps its number: receivers count
// its lines as missed, which they are.
func (o *outSeq) stamp(lines int) string {
	v := o.incarnation + "." + strconv.FormatUint(o.next, 10) + "." + strconv.FormatUint(o.lines, 10)
	o.next++
	o.lines += uint64(lines)
	return v
}

// inSeq is what a receiver knows of one origin's run.
type inSeq struct {
	incarnation string
	next        uint64 // message number expected next
	lines       uint64 // lines before the message expected next
}

// verdict is what a receiver does with a message.
type verdict int

const (
	deliver   verdict = iota // in order, or the first seen of a run
	duplicate                // at or below one already delivered: drop it
)

// origins tracks every origin's sequence. Owned by the subscription
// goroutine; one entry per origin node number (at most 1024).
type origins map[string]*inSeq

// observe checks a message from origin with header value v and lines
// lines; it returns what to do and how many lines were missed just before
// it. A message without a valid header (a node of an older version) is
// delivered untracked.
func (o origins) observe(origin, v string, lines int) (verdict, uint64) {
	inc, num, before, ok := parseSeq(v)
	if !ok {
		return deliver, 0
	}
	st := o[origin]
	if st == nil || st.incarnation != inc {
		// A node we have not heard from yet, or that restarted: we cannot
		// know what it sent before we listened, so nothing counts as missed.
		o[origin] = &inSeq{incarnation: inc, next: num + 1, lines: before + uint64(lines)}
		return deliver, 0
	}
	if num < st.next {
		return duplicate, 0
	}
	var missed uint64
	if before > st.lines {
		missed = before - st.lines
	}
	st.next, st.lines = num+1, before+uint64(lines)
	return deliver, missed
}

func parseSeq(v string) (inc string, num, before uint64, ok bool) {
	inc, rest, ok1 := strings.Cut(v, ".")
	n, b, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || inc == "" {
		return "", 0, 0, false
	}
	num, err1 := strconv.ParseUint(n, 10, 64)
	before, err2 := strconv.ParseUint(b, 10, 64)
	return inc, num, before, err1 == nil && err2 == nil
}
