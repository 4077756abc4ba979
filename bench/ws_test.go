package bench

import (
	"testing"

	"github.com/fanout/fanout/internal/ws"
)

func TestWSShareSpread(t *testing.T) {
	cases := []struct {
		share float64
		want  int // WebSocket clients of 100
	}{{share: 0, want: 0}, {share: 0.5, want: 50}, {share: 0.25, want: 25}, {share: 1, want: 100}}
	for _, tc := range cases {
		w := Workload{WSShare: tc.share}
		n, run := 0, 0
		for i := range 100 {
			if w.isWS(i) {
				n++
				run = 0
			} else if run++; tc.share > 0 && run > int(1/tc.share) {
				t.Errorf("share %g: %d TCP clients in a row at %d", tc.share, run, i)
			}
		}
		if n != tc.want {
			t.Errorf("share %g: %d WebSocket clients of 100, want %d", tc.share, n, tc.want)
		}
	}
}

// The generator's client frames are what the server's parser takes, and
// its reader takes what the server's encoder makes.
func TestWSFramesRoundTrip(t *testing.T) {
	for _, size := range []int{MinPayloadSize, 200, 70000} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = 'a' + byte(i%26)
		}
		frame := appendMaskedFrame(nil, ws.OpText, payload)
		if len(frame) != wsLineLen(size) {
			t.Fatalf("size %d: frame of %d bytes, wsLineLen says %d", size, len(frame), wsLineLen(size))
		}
		p := ws.NewParser(1 << 20)
		m, n, err := p.Next(frame)
		if err != nil || n != len(frame) || m.Op != ws.OpText || string(m.Payload) != string(payload) {
			t.Fatalf("size %d: parser got op %v, %d bytes, err %v", size, m.Op, n, err)
		}
		out := ws.AppendLine(nil, 42, payload)
		op, got, used := nextServerFrame(append(out, 0x81)) // a second frame's first byte after it
		if op != ws.OpText || used != len(out) || string(got) != "42:"+string(payload) {
			t.Fatalf("size %d: reader got op %v, %d bytes", size, op, used)
		}
		if _, _, used := nextServerFrame(out[:len(out)-1]); used != 0 {
			t.Fatalf("size %d: a partial frame was taken", size)
		}
	}
}
