package cluster

import (
	"math"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Header names. NATS header keys are case-sensitive (nats.go keeps them as
// sent), so a message is read by exactly these spellings.
const (
	originHeader = "Fanout-Node" // the publishing node's number
	seqHeader    = "Fanout-Seq"  // "<run>.<message number>.<lines before>", see seq.go
	macHeader    = "Fanout-Mac"  // HMAC-SHA256, hex, with a cluster key (see mac.go)
)

// Snowflake layout (github.com/bwmarrin/snowflake's defaults, which the
// server uses): time<<22 | node<<12 | sequence.
const (
	// MaxNode is the highest node number (10 node bits): the one limit
	// that --node, the cluster's headers and its per-origin table share.
	MaxNode   = 1023
	nodeShift = 12 // sequence bits below the node
)

// headerValue returns the one value of key in h; ok is false when the
// header is absent or repeated (a repeat is never what a node sends, and
// reading only its first value would let the two disagree).
func headerValue(h nats.Header, key string) (v string, ok bool) {
	vs := h[key]
	if len(vs) != 1 {
		return "", false
	}
	return vs[0], true
}

// parseDecimal reads s as a canonical unsigned decimal: digits only, no
// sign, no leading zero (but "0" itself), at most max. One spelling per
// number, so two spellings can never name two things. It takes a frame's
// bytes as they are (no string made) as well as a header's string.
func parseDecimal[T string | []byte](s T, max uint64) (uint64, bool) {
	n := len(s)
	if n == 0 || n > 20 || (s[0] == '0' && n > 1) {
		return 0, false
	}
	var v uint64
	for i := range min(n, 19) { // 19 digits always fit in a uint64
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if n == 20 {
		c := s[19]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, v <= max
}

// parseNode reads a Fanout-Node value: a node number 0..1023, canonical.
func parseNode(s string) (int, bool) {
	n, ok := parseDecimal(s, MaxNode)
	return int(n), ok
}

// parseBase36 reads s as canonical lower-case base 36 (what
// strconv.FormatUint(v, 36) writes), non-zero.
func parseBase36(s string) (uint64, bool) {
	if s == "" || len(s) > 13 || s[0] == '0' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'z':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if v > (math.MaxUint64-d)/36 {
			return 0, false
		}
		v = v*36 + d
	}
	return v, true
}

// seqFields is a parsed Fanout-Seq value.
type seqFields struct {
	run    uint64 // the origin's run: its start time, Unix ns
	num    uint64 // the message's number in that run, from 0
	before uint64 // lines the run published before this message
}

// parseSeq reads a Fanout-Seq value strictly: "<run>.<num>.<before>", run in
// canonical base 36, the others canonical decimal. A message whose counts
// would overflow with its own lines added is refused too: no node gets
// there, so only a forger would send one.
func parseSeq(v string, lines int) (seqFields, bool) {
	r, rest, ok1 := strings.Cut(v, ".")
	n, b, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return seqFields{}, false
	}
	run, ok1 := parseBase36(r)
	num, ok2 := parseDecimal(n, math.MaxUint64-1)
	before, ok3 := parseDecimal(b, math.MaxUint64-uint64(lines))
	return seqFields{run: run, num: num, before: before}, ok1 && ok2 && ok3
}

// formatSeq writes a Fanout-Seq value.
func formatSeq(run, num, before uint64) string {
	b := make([]byte, 0, 13+1+20+1+20)
	b = strconv.AppendUint(b, run, 36)
	b = append(b, '.')
	b = strconv.AppendUint(b, num, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, before, 10)
	return string(b)
}
