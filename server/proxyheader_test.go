package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/pires/go-proxyproto"
)

// proxyHeader formats a PROXY header (version 1 or 2) for a client at src
// reaching dst, as a proxy would send it.
func proxyHeader(t testing.TB, version byte, src, dst string) []byte {
	t.Helper()
	s, err := net.ResolveTCPAddr("tcp", src)
	if err != nil {
		t.Fatal(err)
	}
	d, err := net.ResolveTCPAddr("tcp", dst)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proxyproto.HeaderProxyFromAddrs(version, s, d).Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proxyV2Local is a v2 LOCAL header, as haproxy's health checks send it.
func proxyV2Local() []byte {
	return append(append([]byte(nil), proxyproto.SIGV2...), 0x20, 0x00, 0x00, 0x00)
}

// proxyV2WithTLVs is a v2 header for src with a TLV of n bytes.
func proxyV2WithTLVs(t testing.TB, src string, n int) []byte {
	t.Helper()
	s, _ := net.ResolveTCPAddr("tcp", src)
	h := proxyproto.HeaderProxyFromAddrs(2, s, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8888})
	if err := h.SetTLVs([]proxyproto.TLV{{Type: proxyproto.PP2_TYPE_NOOP, Value: bytes.Repeat([]byte{'x'}, n)}}); err != nil {
		t.Fatal(err)
	}
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proxyV2Raw is a v2 PROXY header with the given family/transport byte
// and what follows the fixed part, laid out by hand (for what a
// well-behaved formatter would not write).
func proxyV2Raw(famProto byte, rest []byte) []byte {
	b := append(append([]byte(nil), proxyproto.SIGV2...), 0x21, famProto, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(rest)))
	return append(b, rest...)
}

// proxyV2Unix is a v2 header for a client on a unix stream socket at
// path (what haproxy sends for a "bind unix@…" frontend).
func proxyV2Unix(path string) []byte {
	addrs := make([]byte, 216) // 108-byte source and destination paths
	copy(addrs, path)
	copy(addrs[108:], "/run/haproxy.sock")
	return proxyV2Raw(0x31, addrs)
}

// proxyV2TruncatedTLV is a v2 TCP4 header whose one TLV claims 255 bytes
// but carries 3.
func proxyV2TruncatedTLV() []byte {
	rest := []byte{203, 0, 113, 7, 10, 0, 0, 1, 0x10, 0x92, 0x22, 0xb8} // 203.0.113.7:4242 → 10.0.0.1:8888
	rest = append(rest, 0x01, 0x00, 0xff, 'h', '2', 'x')                // ALPN, length 255, 3 bytes
	return proxyV2Raw(0x11, rest)
}

// proxyV2Sized is a v2 header whose length field claims n more bytes.
func proxyV2Sized(n int) []byte {
	b := append(append([]byte(nil), proxyproto.SIGV2...), 0x21, 0x11, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(n))
	return append(b, make([]byte, n)...)
}

func TestParseProxyHeader(t *testing.T) {
	v1 := proxyHeader(t, 1, "203.0.113.7:4242", "10.0.0.1:8888")
	v1six := proxyHeader(t, 1, "[2001:db8::7]:4242", "[2001:db8::1]:8888")
	v2 := proxyHeader(t, 2, "203.0.113.7:4242", "10.0.0.1:8888")
	v2six := proxyHeader(t, 2, "[2001:db8::7]:4242", "[2001:db8::1]:8888")
	tlvs := proxyV2WithTLVs(t, "203.0.113.7:4242", 300)
	cases := []struct {
		name    string
		in      []byte
		wantSrc string // "" for LOCAL / UNKNOWN
		wantN   int
		wantErr error // nil, or the sentinel; errBadHeader for any parser refusal
	}{
		{name: "v1 TCP4", in: v1, wantSrc: "203.0.113.7:4242", wantN: len(v1)},
		{name: "v1 TCP6", in: v1six, wantSrc: "[2001:db8::7]:4242", wantN: len(v1six)},
		{name: "v1 with a line after it", in: append(append([]byte(nil), v1...), "hello\n"...), wantSrc: "203.0.113.7:4242", wantN: len(v1)},
		{name: "v1 UNKNOWN", in: []byte("PROXY UNKNOWN\r\nhi\n"), wantN: 15},
		{name: "v1 UNKNOWN with addresses", in: []byte("PROXY UNKNOWN ::1 ::1 1 2\r\n"), wantN: 27},
		{name: "v2 TCP4", in: v2, wantSrc: "203.0.113.7:4242", wantN: len(v2)},
		{name: "v2 TCP6", in: v2six, wantSrc: "[2001:db8::7]:4242", wantN: len(v2six)},
		{name: "v2 with a line after it", in: append(append([]byte(nil), v2...), "hello\n"...), wantSrc: "203.0.113.7:4242", wantN: len(v2)},
		{name: "v2 with TLVs", in: tlvs, wantSrc: "203.0.113.7:4242", wantN: len(tlvs)},
		{name: "v2 LOCAL", in: proxyV2Local(), wantN: 16},
		{name: "v2 AF_UNIX keeps the socket's address", in: proxyV2Unix("/tmp/client.sock"), wantN: 16 + 216},
		{name: "v2 AF_UNIX with control characters", in: proxyV2Unix("\x1b[31m\nfake log line"), wantN: 16 + 216},

		{name: "one byte", in: []byte("P"), wantErr: errProxyHeaderIncomplete},
		{name: "v1 without its CRLF yet", in: v1[:len(v1)-2], wantErr: errProxyHeaderIncomplete},
		{name: "v1 without its LF yet", in: v1[:len(v1)-1], wantErr: errProxyHeaderIncomplete},
		{name: "v2 signature only", in: v2[:12], wantErr: errProxyHeaderIncomplete},
		{name: "v2 without its addresses yet", in: v2[:20], wantErr: errProxyHeaderIncomplete},
		{name: "v2 one byte short", in: v2[:len(v2)-1], wantErr: errProxyHeaderIncomplete},

		{name: "a plain line", in: []byte("hello\n"), wantErr: errNoProxyHeader},
		{name: "PROXY without its space", in: []byte("PROXYTCP4 1.2.3.4\r\n"), wantErr: errNoProxyHeader},
		{name: "lower case", in: []byte("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), wantErr: errNoProxyHeader},
		{name: "v1 past 107 bytes", in: []byte("PROXY TCP4 " + strings.Repeat("1", 200)), wantErr: errProxyHeaderTooLarge},
		{name: "v1 LF at byte 108", in: []byte("PROXY UNKNOWN " + strings.Repeat(" ", 92) + "\r\n"), wantErr: errProxyHeaderTooLarge},
		{name: "v2 past the size limit", in: proxyV2Sized(maxProxyHeader), wantErr: errProxyHeaderTooLarge},
		{name: "v2 claiming 64 KiB", in: proxyV2Sized(65535)[:100], wantErr: errProxyHeaderTooLarge},

		{name: "v1 bad address", in: []byte("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), wantErr: errBadHeader},
		{name: "v1 bad port", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"), wantErr: errBadHeader},
		{name: "v1 LF without CR", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), wantErr: errBadHeader},
		{name: "v1 unknown protocol", in: []byte("PROXY SCTP 1.2.3.4 5.6.7.8 1 2\r\n"), wantErr: errBadHeader},
		{name: "v2 bad version", in: append(append([]byte(nil), v2[:12]...), append([]byte{0x31}, v2[13:]...)...), wantErr: errBadHeader},
		{name: "v2 UDP", in: append(append([]byte(nil), v2[:13]...), append([]byte{0x12}, v2[14:]...)...), wantErr: errBadHeader},
		{name: "v2 length too short for TCP4", in: proxyV2Sized(4), wantErr: errBadHeader},
		{name: "v2 TLV longer than the header", in: proxyV2TruncatedTLV(), wantErr: errBadHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, n, err := parseProxyHeader(tc.in)
			switch {
			case tc.wantErr == errBadHeader:
				if err == nil || errors.Is(err, errProxyHeaderIncomplete) || errors.Is(err, errNoProxyHeader) || errors.Is(err, errProxyHeaderTooLarge) {
					t.Fatalf("err = %v, want the parser's refusal", err)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if n != tc.wantN {
				t.Errorf("n = %d, want %d", n, tc.wantN)
			}
			got := ""
			if src != nil {
				got = src.String()
			}
			if got != tc.wantSrc {
				t.Errorf("src = %q, want %q", got, tc.wantSrc)
			}
		})
	}
}

// errBadHeader stands, in the table above, for any refusal by the parser.
var errBadHeader = errors.New("test: any parser error")

// FuzzParseProxyHeader: whatever arrives, the parser does not panic, never
// claims more bytes than it was given or than the limits allow, and a
// header it accepts is accepted alike on its own, while every shorter
// prefix of it is only incomplete: so the server never discards a byte
// that is not the header's, and never gives up on a header still arriving.
func FuzzParseProxyHeader(f *testing.F) {
	for _, seed := range [][]byte{
		proxyHeader(f, 1, "203.0.113.7:4242", "10.0.0.1:8888"),
		proxyHeader(f, 1, "[2001:db8::7]:4242", "[2001:db8::1]:8888"),
		proxyHeader(f, 2, "203.0.113.7:4242", "10.0.0.1:8888"),
		proxyHeader(f, 2, "[2001:db8::7]:4242", "[2001:db8::1]:8888"),
		append(proxyHeader(f, 2, "203.0.113.7:4242", "10.0.0.1:8888"), "line\r\n"...),
		proxyV2WithTLVs(f, "203.0.113.7:4242", 40),
		proxyV2Local(),
		proxyV2Sized(4),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhello\n"),
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
		[]byte("hello\n"),
		[]byte("PROXY"),
		proxyproto.SIGV2,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src, n, err := parseProxyHeader(in)
		if err != nil {
			if n != 0 || src != nil {
				t.Fatalf("error %v with n=%d src=%v", err, n, src)
			}
			if errors.Is(err, errProxyHeaderIncomplete) && len(in) >= maxProxyHeader {
				t.Fatalf("incomplete after %d bytes", len(in))
			}
			return
		}
		if n <= 0 || n > len(in) || n > maxProxyHeader {
			t.Fatalf("n = %d for %d bytes", n, len(in))
		}
		src2, n2, err := parseProxyHeader(in[:n])
		if err != nil || n2 != n || (src == nil) != (src2 == nil) || (src != nil && src.String() != src2.String()) {
			t.Fatalf("the header alone parses as (%v, %d, %v), with what follows as (%v, %d)", src2, n2, err, src, n)
		}
		for i := range n {
			if _, _, err := parseProxyHeader(in[:i]); !errors.Is(err, errProxyHeaderIncomplete) {
				t.Fatalf("prefix of %d of a %d-byte header: %v, want incomplete", i, n, err)
			}
		}
	})
}

// BenchmarkParseProxyHeader: the once-per-connection cost of a header,
// followed by a line in the same read as proxies' first packets often are.
func BenchmarkParseProxyHeader(b *testing.B) {
	for _, v := range []byte{1, 2} {
		in := append(proxyHeader(b, v, "203.0.113.7:4242", "10.0.0.1:8888"), "hello\n"...)
		b.Run("v"+string('0'+v), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := parseProxyHeader(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
