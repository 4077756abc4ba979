package cluster

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestParseNode: one spelling per node number, and only 0..1023.
func TestParseNode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{in: "0", want: 0, ok: true},
		{in: "7", want: 7, ok: true},
		{in: "1023", want: 1023, ok: true},
		{in: "07"}, {in: "007"}, {in: "00"}, {in: "+7"}, {in: "-1"}, {in: " 7"}, {in: "7 "},
		{in: "1024"}, {in: "99999999999999999999999"}, {in: ""}, {in: "0x7"}, {in: "7\n"}, {in: "٧"},
	} {
		got, ok := parseNode(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseNode(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseDecimalBounds(t *testing.T) {
	max := strconv.FormatUint(math.MaxUint64, 10)
	if v, ok := parseDecimal(max, math.MaxUint64); !ok || v != math.MaxUint64 {
		t.Errorf("parseDecimal(MaxUint64) = %d, %v", v, ok)
	}
	if _, ok := parseDecimal("18446744073709551616", math.MaxUint64); ok {
		t.Error("2^64 parsed")
	}
	if _, ok := parseDecimal("100", 99); ok {
		t.Error("past max parsed")
	}
	if v, ok := parseDecimal([]byte("9223372036854775807"), math.MaxInt64); !ok || v != math.MaxInt64 {
		t.Errorf("parseDecimal(MaxInt64) = %d, %v", v, ok)
	}
	if _, ok := parseDecimal([]byte("9223372036854775808"), math.MaxInt64); ok {
		t.Error("2^63 parsed as an ID")
	}
}

// TestParseSeq: "<run base 36>.<num>.<before>", canonical, nothing that
// overflows with the message's own lines.
func TestParseSeq(t *testing.T) {
	for _, tc := range []struct {
		in    string
		lines int
		want  seqFields
		ok    bool
	}{
		{in: "dn9yfi0usm0l.0.0", lines: 1, want: seqFields{run: mustBase36(t, "dn9yfi0usm0l")}, ok: true},
		{in: "z.17.900", lines: 3, want: seqFields{run: 35, num: 17, before: 900}, ok: true},
		{in: "3w5e11264sgsf.18446744073709551614.0", lines: 1, want: seqFields{run: math.MaxUint64, num: math.MaxUint64 - 1}, ok: true},
		{in: "z.18446744073709551615.0", lines: 1}, // its successor overflows
		{in: "z.0.18446744073709551615", lines: 1}, // before + lines overflows
		{in: "Z.0.0", lines: 1}, {in: "0.0.0", lines: 1}, {in: "0z.0.0", lines: 1}, // not canonical base 36, or zero
		{in: "3w5e11264sgsg.0.0", lines: 1}, // 2^64
		{in: "z.01.0", lines: 1}, {in: "z.1.00", lines: 1}, {in: "z.+1.0", lines: 1},
		{in: "z.1", lines: 1}, {in: "z.1.2.3", lines: 1}, {in: "", lines: 1}, {in: "..", lines: 1},
		{in: strings.Repeat("z", 60000) + ".0.0", lines: 1},
	} {
		got, ok := parseSeq(tc.in, tc.lines)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseSeq(%.40q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got := formatSeq(math.MaxUint64, 3, 4); got != "3w5e11264sgsf.3.4" {
		t.Errorf("formatSeq = %q", got)
	}
}

func mustBase36(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 36, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHeaderValue: exactly one value, by exactly that spelling.
func TestHeaderValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    nats.Header
		ok   bool
	}{
		{name: "one", h: nats.Header{originHeader: {"1"}}, ok: true},
		{name: "none", h: nats.Header{}},
		{name: "nil", h: nil},
		{name: "two", h: nats.Header{originHeader: {"1", "2"}}},
		{name: "other spelling", h: nats.Header{"fanout-node": {"1"}}},
	} {
		if _, ok := headerValue(tc.h, originHeader); ok != tc.ok {
			t.Errorf("%s: ok %v, want %v", tc.name, ok, tc.ok)
		}
	}
}
