package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fanout/fanout/internal/ws"
)

// WebSocket clients (--proto ws, --ws-share). A share of the connections,
// spread evenly over them (isWS), connects to the WebSocket listener
// instead, upgrades on its blocking socket, sends each line as one masked
// text frame (the header from internal/ws, the mask bit, key and XOR
// here: client frames must be masked, which the server-side encoders never
// do) and reads the server's unmasked frames with a small reader that
// takes each message as one line "<id>:<line>". Everything else (pacing,
// windows, the tally, latency) is the TCP clients'. The server is started
// with --ws-ping 1h: the generator's readers never write, so they answer
// no ping, and a run is far shorter.

// isWS reports whether connection i is a WebSocket client: WSShare of the
// connections, spread evenly (with 0.5, every second one).
func (w Workload) isWS(i int) bool {
	return w.WSShare > 0 && int(float64(i+1)*w.WSShare) > int(float64(i)*w.WSShare)
}

// wsAddr is the WebSocket listener connection i connects to.
func (w Workload) wsAddr(i int) string {
	addrs := strings.Split(w.WSAddr, ",")
	return addrs[i%len(addrs)]
}

// wsKey is the handshake's Sec-WebSocket-Key: any 16 bytes in base64.
const wsKey = "ZmFub3V0LWJlbmNoLWtleQ=="

// wsHandshake upgrades the connection on fd, whose server address is
// addr, and checks the answer. Blocking, bounded by ctx and connectLimit.
func wsHandshake(ctx context.Context, fd int, addr string) error {
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if err := writeAll(ctx, fd, []byte(req)); err != nil {
		return err
	}
	// Read the answer a byte at a time: nothing past its head may be taken
	// from the socket, as the readers own what follows.
	var head []byte
	var b [1]byte
	deadline := time.Now().Add(connectLimit)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if len(head) > 4096 || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: no WebSocket handshake answer from %s (got %q)", addr, head)
		}
		n, err := unix.Read(fd, b[:])
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			return os.NewSyscallError("read", err)
		case n == 0:
			return fmt.Errorf("bench: %s closed during the WebSocket handshake (got %q)", addr, head)
		}
		head = append(head, b[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) ||
		!bytes.Contains(head, []byte("Sec-WebSocket-Accept: "+ws.AcceptKey(wsKey)+"\r\n")) {
		return fmt.Errorf("bench: %s refused the WebSocket handshake: %q", addr, head)
	}
	return nil
}

// wsMask is the masking key of every client frame: the generator is not
// a browser, and the server's cost does not depend on the key.
var wsMask = [4]byte{0x5a, 0x17, 0xc3, 0x8e}

// appendMaskedFrame appends payload as one masked client frame.
func appendMaskedFrame(b []byte, op ws.Opcode, payload []byte) []byte {
	h := len(b)
	b = ws.AppendFrameHeader(b, op, len(payload))
	b[h+1] |= 0x80 // the mask bit
	b = append(b, wsMask[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= wsMask[i&3]
	}
	return b
}

// wsLineLen is what one line of payload size costs on the wire from a
// WebSocket client: header, key and payload (no "\n": the message ends it).
func wsLineLen(size int) int { return ws.FrameHeaderLen(size) + 4 + size }

// appendLineFor appends sender s's line seq as connection s sends it: a
// line and "\n", or one masked text frame, the payload laid out in
// scratch first (returned for reuse). Runs on the sender's goroutine.
func (r *run) appendLineFor(buf, scratch []byte, s uint32, seq uint64, now int64) ([]byte, []byte) {
	if !r.w.isWS(int(s)) {
		buf = AppendPayload(buf, s, seq, now, r.w.Size)
		return append(buf, '\n'), scratch
	}
	scratch = AppendPayload(scratch[:0], s, seq, now, r.w.Size)
	return appendMaskedFrame(buf, ws.OpText, scratch), scratch
}

// encodedLineLen is the bytes one line of connection i takes on the wire.
func (r *run) encodedLineLen(i int) int {
	if r.w.isWS(i) {
		return wsLineLen(r.w.Size)
	}
	return r.w.Size + 1
}

// accountFrames is accountLines for a WebSocket client: what is read is
// server frames, each message one line.
func (r *run) accountFrames(c *conn, data []byte, now int64, samples []int64) ([]int64, []byte) {
	for {
		op, payload, used := nextServerFrame(data)
		if used == 0 {
			return samples, data
		}
		data = data[used:]
		switch op {
		case ws.OpText, ws.OpBinary:
			samples = r.account(c, payload, now, samples)
		case ws.OpClose:
			r.end(c, now, fmt.Errorf("bench: the server closed the WebSocket (%x)", payload))
		}
	}
}

// nextServerFrame takes one whole unmasked frame (fanout sends every
// message in one) from the front of b; used == 0 when b holds none yet.
func nextServerFrame(b []byte) (op ws.Opcode, payload []byte, used int) {
	if len(b) < 2 {
		return 0, nil, 0
	}
	op, n, h := ws.Opcode(b[0]&0x0f), int(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0
		}
		n, h = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, 0
		}
		n, h = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	if len(b) < h+n {
		return 0, nil, 0
	}
	return op, b[h : h+n], h + n
}

// wsServerFlags are the flags a fanout the harness starts needs for the
// WebSocket clients: a listener, and pings the generator need not answer.
func wsServerFlags(sc Scenario) []string {
	if sc.WSShare == 0 {
		return nil
	}
	return []string{"--ws-addr", "127.0.0.1:0", "--ws-ping", "1h"}
}
