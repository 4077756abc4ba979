package bench

import (
	"errors"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		sender uint32
		seq    uint64
		sent   int64
		size   int
	}{
		{name: "minimum size", sender: 0, seq: 0, sent: 0, size: MinPayloadSize},
		{name: "padded", sender: 7, seq: 123456, sent: 1_790_000_000_123_456_789, size: 64},
		{name: "large fields", sender: 0xffffffff, seq: 0xffffffffffff, sent: 0x7fffffffffffffff, size: 100},
		{name: "size below minimum is raised", sender: 1, seq: 2, sent: 3, size: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := AppendPayload(nil, tc.sender, tc.seq, tc.sent, tc.size)
			if want := max(tc.size, MinPayloadSize); len(p) != want {
				t.Fatalf("len %d, want %d", len(p), want)
			}
			s, q, ts, err := ParsePayload(p)
			if err != nil || s != tc.sender || q != tc.seq || ts != tc.sent {
				t.Fatalf("got %d %d %d %v", s, q, ts, err)
			}
		})
	}
}

func TestParsePayloadRejects(t *testing.T) {
	for _, p := range []string{"", "short", "zz000000000000000000000000000000000000", "hello world, this is not a payload at all"} {
		if _, _, _, err := ParsePayload([]byte(p)); !errors.Is(err, ErrBadPayload) {
			t.Errorf("%q: err %v, want ErrBadPayload", p, err)
		}
	}
}

func TestPayloadCodecDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() {
		p := AppendPayload(buf[:0], 3, 99, 12345, 64)
		_, _, _, _ = ParsePayload(p)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocs per encode+parse", allocs)
	}
}

func TestTally(t *testing.T) {
	type obs struct {
		sender uint32
		seq    uint64
	}
	cases := []struct {
		name     string
		seen     []obs
		sent     []uint64
		self     int
		received uint64
		dups     uint64
		missing  uint64
		gaps     uint64 // of missing, skipped while later lines arrived
		foreign  uint64
	}{
		{name: "all in order", seen: []obs{{0, 0}, {0, 1}, {1, 0}, {0, 2}}, sent: []uint64{3, 1}, self: -1, received: 4},
		{name: "tail lost", seen: []obs{{0, 0}}, sent: []uint64{3}, self: -1, received: 1, missing: 2},
		{name: "gap in the middle", seen: []obs{{0, 0}, {0, 3}}, sent: []uint64{4}, self: -1, received: 2, missing: 2, gaps: 2},
		{name: "duplicate", seen: []obs{{0, 0}, {0, 1}, {0, 1}}, sent: []uint64{2}, self: -1, received: 3, dups: 1},
		{name: "reorder shows as gap then duplicate", seen: []obs{{0, 1}, {0, 0}}, sent: []uint64{2}, self: -1, received: 2, dups: 1, missing: 1, gaps: 1},
		{name: "own lines not expected", seen: []obs{{1, 0}}, sent: []uint64{5, 1}, self: 0, received: 1},
		{name: "unknown sender", seen: []obs{{9, 0}}, sent: []uint64{0}, self: -1, foreign: 1},
		{name: "nothing received", sent: []uint64{2, 3}, self: -1, missing: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTally(len(tc.sent))
			for _, o := range tc.seen {
				tl.Observe(o.sender, o.seq)
			}
			if tl.Received != tc.received || tl.Duplicates != tc.dups || tl.Foreign != tc.foreign {
				t.Errorf("received %d dups %d foreign %d; want %d %d %d", tl.Received, tl.Duplicates, tl.Foreign, tc.received, tc.dups, tc.foreign)
			}
			if got := tl.Missing(tc.sent, tc.self); got != tc.missing || tl.Gaps != tc.gaps {
				t.Errorf("missing %d (gaps %d), want %d (%d)", got, tl.Gaps, tc.missing, tc.gaps)
			}
		})
	}
}
