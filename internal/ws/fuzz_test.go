package ws

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParseHandshake: any bytes, whole or one byte per call, give the same
// answer; what is accepted, net/http reads the same way. The seeds (the
// table cases) run in every go test run.
func FuzzParseHandshake(f *testing.F) {
	for _, tc := range handshakeCases() {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(browserRequest + "\x81\x80\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, u := range []*Upgrader{{}, {MaxHeaderBytes: 128}, {Origins: OriginPolicy{any: true}}} {
			var st HandshakeState
			whole, n, err := u.Parse(in, &st)
			if n < 0 || n > len(in) || (err != nil && n != 0) {
				t.Fatalf("n %d of %d, err %v", n, len(in), err)
			}
			var he *HTTPError
			if err != nil && !errors.As(err, &he) {
				t.Fatalf("error %v is not an *HTTPError", err)
			}
			if err == nil && n > 0 && whole.Target != TargetUpgrade && whole.Target != TargetPage {
				t.Fatalf("accepted with target %d", whole.Target)
			}
			// Byte by byte: the first answer is the same.
			st = HandshakeState{}
			var bn int
			var berr error
			var breq Request
			for i := 0; i <= len(in); i++ {
				if breq, bn, berr = u.Parse(in[:i], &st); berr != nil || bn > 0 {
					break
				}
			}
			if bn != n || !errors.Is(berr, err) || breq.Target != whole.Target || breq.Accept != whole.Accept {
				t.Fatalf("whole: n %d err %v target %d; byte by byte: n %d err %v target %d", n, err, whole.Target, bn, berr, breq.Target)
			}
		}
		checkAgainstNetHTTP(t, in)
	})
}

// FuzzParseFrames: a byte stream fed whole and byte by byte gives the same
// messages and error; every message keeps the rules (text is UTF-8, within
// the bound, control payloads of at most 125 bytes, close codes a peer may
// send). With mode&1 set the input is read as a list of frames to build
// (opcode, flags, length, payload), masked and well formed at the byte
// level, and the parser is checked against a plain model of RFC 6455 that
// assembles whole messages without any incremental state.
func FuzzParseFrames(f *testing.F) {
	for _, tc := range frameCases() {
		if len(tc.in) < 4096 {
			f.Add(tc.in, uint16(testMaxMessage), byte(0))
		}
	}
	// Frame lists for the model: ctrl (low nibble opcode, 0x80 FIN,
	// 0x40 RSV1), length, payload.
	f.Add([]byte{0x01, 2, 'h', 'i', 0x80, 1, '!', 0x89, 0, 0x88, 2, 0x03, 0xe8}, uint16(64), byte(1))
	f.Add([]byte{0x01, 1, 0xe2, 0x09, 0, 0x00, 1, 0x82, 0x80, 1, 0xac}, uint16(64), byte(1))
	f.Add([]byte{0x02, 3, 1, 2, 3, 0x00, 3, 4, 5, 6, 0x80, 3, 7, 8, 9}, uint16(8), byte(1))
	f.Add([]byte{0x81, 5, 0xed, 0xa0, 0x80, 'x', 'y', 0x8A, 126}, uint16(64), byte(1))
	f.Fuzz(func(t *testing.T, in []byte, bound uint16, mode byte) {
		maxMsg := int(bound)
		var model []event
		var modelErr error
		if mode&1 != 0 {
			var frames []frame
			frames, model, modelErr = buildAndModel(in, maxMsg)
			in = stream(frames...)
		}
		p := NewParser(maxMsg)
		got, err, left := drive(t, &p, in, whole)
		p.Release()
		checkMessages(t, got, maxMsg)
		var ce *CloseError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v is not a *CloseError", err)
		}
		p = NewParser(maxMsg)
		next := chunker(byteByByte)
		if len(in) > 4096 {
			next = byteByByteThenKiB()
		}
		got2, err2, left2 := drive(t, &p, in, next)
		p.Release()
		if !errors.Is(err2, err) || !equalEvents(got, got2) || (err == nil && left != left2) {
			t.Fatalf("whole: %v, %v, %d left; byte by byte: %v, %v, %d left", got, err, left, got2, err2, left2)
		}
		if mode&1 != 0 && (!errors.Is(err, modelErr) || !equalEvents(got, model)) {
			t.Fatalf("parser: %v, %v; model: %v, %v", got, err, model, modelErr)
		}
	})
}

func checkMessages(t *testing.T, events []event, maxMsg int) {
	t.Helper()
	for _, e := range events {
		switch e.op {
		case OpText, OpBinary:
			if len(e.payload) > maxMsg {
				t.Fatalf("message of %d bytes past the bound %d", len(e.payload), maxMsg)
			}
			if e.op == OpText && !utf8.ValidString(e.payload) {
				t.Fatalf("text message not UTF-8: %q", e.payload)
			}
		case OpPing, OpPong:
			if len(e.payload) > MaxControlPayload {
				t.Fatalf("control payload of %d bytes", len(e.payload))
			}
		case OpClose:
			if e.code != CloseNoStatus && !e.code.validReceived() || !utf8.ValidString(e.payload) {
				t.Fatalf("close %d %q", e.code, e.payload)
			}
		default:
			t.Fatalf("event with opcode %d", e.op)
		}
	}
}

// buildAndModel reads in as frames (ctrl, length, payload...) and works out
// what RFC 6455 says of them the simple way: whole messages assembled,
// then checked.
func buildAndModel(in []byte, maxMsg int) (frames []frame, events []event, err error) {
	var msg []byte
	var msgOp Opcode
	closed := false
	for len(in) >= 2 {
		ctrl, n := in[0], int(in[1])
		in = in[2:]
		n = min(n, len(in))
		f := frame{op: Opcode(ctrl & 0x0F), more: ctrl&0x80 == 0, payload: in[:n]}
		if ctrl&0x40 != 0 {
			f.rsv = 0x40
		}
		in = in[n:]
		frames = append(frames, f)
		if err != nil {
			continue // the parser stops at the first error; later frames only add bytes
		}
		fin := !f.more
		switch {
		case closed:
			err = ErrFrameAfterClose
		case f.rsv != 0:
			err = ErrReservedBits
		case f.op == OpText || f.op == OpBinary:
			if msgOp != 0 {
				err = ErrExpectedContinuation
				continue
			}
			msgOp, msg = f.op, nil
			err = appendModel(&msg, msgOp, f.payload, maxMsg)
		case f.op == OpContinuation:
			if msgOp == 0 {
				err = ErrUnexpectedContinuation
				continue
			}
			err = appendModel(&msg, msgOp, f.payload, maxMsg)
		case f.op == OpPing || f.op == OpPong || f.op == OpClose:
			switch {
			case !fin:
				err = ErrControlFragmented
			case len(f.payload) > MaxControlPayload:
				err = ErrControlTooLong
			case f.op != OpClose:
				events = append(events, event{op: f.op, payload: string(f.payload)})
			default:
				var m Message
				if m, err = parseClose(f.payload); err == nil {
					events = append(events, event{op: OpClose, payload: string(m.Payload), code: m.Code})
					closed, msgOp = true, 0
				}
			}
			continue
		default:
			err = ErrBadOpcode
		}
		if err == nil && fin && (f.op == OpContinuation || f.op == OpText || f.op == OpBinary) {
			if msgOp == OpText && !utf8.Valid(msg) {
				err = ErrInvalidUTF8
				continue
			}
			events = append(events, event{op: msgOp, payload: string(msg)})
			msgOp = 0
		}
	}
	return frames, events, err
}

// appendModel adds a fragment to the model's message: past the bound it is
// refused; a text message is refused as soon as no continuation could
// make it UTF-8 (the parser fails fast, and so must the model).
func appendModel(msg *[]byte, op Opcode, payload []byte, maxMsg int) error {
	if len(*msg)+len(payload) > maxMsg {
		return ErrMessageTooBig
	}
	*msg = append(*msg, payload...)
	if op == OpText && !validPrefix(*msg) {
		return ErrInvalidUTF8
	}
	return nil
}
