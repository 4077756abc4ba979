package shard

import (
	"sync"
	"sync/atomic"
	"time"
)

// batch is a run of encoded frames sealed on one hub. Once sealed it is
// read-only and shared by every hub's log: its bytes exist once however
// many members have yet to be written them. The last hub to drop it from
// its log recycles it.
type batch struct {
	fan    *Fanout      // whose live-bytes count it is in
	origin *Hub         // the hub whose members sent these frames; nil for injected batches
	buf    []byte       // frames laid end to end
	frames []frame      // who sent each frame; read only on origin's loop
	lines  int          // len(frames) (or the injected count), fixed at seal; read by every hub
	first  time.Time    // when the first frame arrived (origin's loop)
	refs   atomic.Int32 // hubs whose log still holds this batch
}

// frame records one encoded line inside batch.buf.
type frame struct {
	sender *Member
	start  int // offset of the frame in buf
	end    int
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
	b.fan.liveBytes.Add(-int64(len(b.buf)))
	if cap(b.buf) > maxKeptBatch {
		b.buf = make([]byte, 0, 4096)
	}
	clear(b.frames) // drop sender pointers so closed members can be collected
	b.buf, b.frames, b.origin, b.fan, b.lines = b.buf[:0], b.frames[:0], nil, nil, 0
	batchPool.Put(b)
}

// MaxFrameOverhead is the most a frame adds to a line: a snowflake ID (a
// positive int64, at most 19 digits), ':' and "\r\n".
const MaxFrameOverhead = 22

// appendFrame appends "<prefix><line>\r\n" to dst.
func appendFrame(dst, prefix, line []byte) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, line...)
	return append(dst, '\r', '\n')
}
