package shard

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	wsproto "github.com/fanout/fanout/internal/ws"
)

// batch is a run of encoded frames sealed on one hub. Once sealed it is
// read-only and shared by every hub's log: its bytes exist once however
// many members have yet to be written them. The last hub to drop it from
// its log recycles it. Its WebSocket encoding is made at most once, by the
// first hub with WebSocket members to append it (wsOnce), so batches no
// WebSocket member receives pay nothing for it.
type batch struct {
	fan    *Fanout      // whose live-bytes count it is in
	origin *Hub         // the hub whose members sent these frames; nil for injected batches
	buf    []byte       // frames "<id>:<line>\r\n" laid end to end
	ws     []byte       // the same lines as WebSocket messages, once wsOnce has run
	wsOnce sync.Once    // makes ws
	frames []frame      // who sent each frame and where it lies; fixed at seal (ws offsets by wsOnce)
	lines  int          // len(frames) (or the injected count), fixed at seal; read by every hub
	first  time.Time    // when the first frame arrived (origin's loop)
	refs   atomic.Int32 // hubs whose log still holds this batch
}

// frame records one encoded line inside batch.buf, and inside batch.ws
// once that is made.
type frame struct {
	sender         *Member
	start, end     int // offsets of the frame in buf
	wsStart, wsEnd int // offsets of its message in ws
}

// maxKeptBatch is the largest buffer a recycled batch keeps: one oversized
// burst should not pin its memory forever.
const maxKeptBatch = 1 << 20

var batchPool = sync.Pool{New: func() any { return &batch{buf: make([]byte, 0, 4096)} }}

func getBatch(f *Fanout, origin *Hub) *batch {
	b := batchPool.Get().(*batch)
	b.fan, b.origin = f, origin
	return b
}

// release drops one hub's reference and recycles b after the last.
// Safe for concurrent use.
func (b *batch) release() {
	if b.refs.Add(-1) != 0 {
		return
	}
	b.fan.liveBytes.Add(-int64(len(b.buf) + len(b.ws)))
	if cap(b.buf) > maxKeptBatch {
		b.buf = make([]byte, 0, 4096)
	}
	if cap(b.ws) > maxKeptBatch {
		b.ws = nil
	}
	clear(b.frames) // drop sender pointers so closed members can be collected
	b.buf, b.ws, b.frames, b.origin, b.fan, b.lines = b.buf[:0], b.ws[:0], b.frames[:0], nil, nil, 0
	b.wsOnce = sync.Once{}
	batchPool.Put(b)
}

// MaxFrameOverhead is the most a frame adds to a line: a snowflake ID (a
// positive int64, at most 19 digits), ':' and "\r\n"; or, in the
// WebSocket encoding, the ID, ':' and a header of at most 10 bytes.
const MaxFrameOverhead = 30

// appendFrame appends "<prefix><line>\r\n" to dst.
func appendFrame(dst, prefix, line []byte) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, line...)
	return append(dst, '\r', '\n')
}

// encodeWebSocket makes b's WebSocket encoding, once: each frame
// "<id>:<line>\r\n" of buf becomes one message "<id>:<line>" (text when
// valid UTF-8, else binary). Safe for concurrent use; every caller returns
// with ws complete.
func (b *batch) encodeWebSocket() {
	b.wsOnce.Do(func() {
		ws := b.ws[:0]
		if len(b.frames) > 0 {
			for i := range b.frames {
				fr := &b.frames[i]
				fr.wsStart = len(ws)
				ws = wsproto.AppendMessage(ws, b.buf[fr.start:fr.end-2])
				fr.wsEnd = len(ws)
			}
		} else { // injected from another node: whole frames, found by their CRLF
			for rest := b.buf; len(rest) > 0; {
				i := bytes.Index(rest, crlf)
				if i < 0 {
					break // cannot happen: the cluster bridge passes whole frames only
				}
				ws = wsproto.AppendMessage(ws, rest[:i])
				rest = rest[i+2:]
			}
		}
		b.ws = ws
		b.fan.liveBytes.Add(int64(len(ws)))
	})
}

var crlf = []byte("\r\n")
