package cluster

import (
	"strconv"
	"strings"
	"testing"

	"github.com/bwmarrin/snowflake"
)

// idOf mints a real snowflake ID of node, as the server does.
func idOf(t testing.TB, node int64) string {
	t.Helper()
	n, err := snowflake.NewNode(node)
	if err != nil {
		t.Fatal(err)
	}
	return n.Generate().String()
}

// TestCheckFrames: a payload is believed only if it is what a node of that
// number sends, frame by frame.
func TestCheckFrames(t *testing.T) {
	id2, id3 := idOf(t, 2), idOf(t, 3)
	for _, tc := range []struct {
		name    string
		payload string
		lines   int
		want    frameError
	}{
		{name: "one frame", payload: id2 + ":hello\r\n", lines: 1},
		{name: "three frames", payload: id2 + ":a\r\n" + id2 + ":b c\r\n" + id2 + ":d\r\n", lines: 3},
		{name: "a CR inside a line, as a client may send", payload: id2 + ":a\rb\r\n" + id2 + ":c\r\r\n", lines: 2},
		{name: "a line of exactly max", payload: id2 + ":" + strings.Repeat("x", 10) + "\r\n", lines: 1},
		{name: "empty", payload: "", want: frameEmpty},
		{name: "bare LF", payload: id2 + ":a\nb\r\n", want: frameNoCRLF},
		{name: "bare LF at the end", payload: id2 + ":a\n", want: frameNoCRLF},
		{name: "no terminator", payload: id2 + ":a", want: frameNoCRLF},
		{name: "tail after the last frame", payload: id2 + ":a\r\n" + id2, want: frameNoCRLF},
		{name: "a fake ERR line", payload: "ERR kicked\r\n", want: frameBadID},
		{name: "a fake ERR line after a good one", payload: id2 + ":a\r\nERR kicked\r\n", want: frameBadID},
		{name: "leading zero ID", payload: "0" + id2 + ":a\r\n", want: frameBadID},
		{name: "signed ID", payload: "+" + id2 + ":a\r\n", want: frameBadID},
		{name: "ID zero", payload: "0:a\r\n", want: frameBadID},
		{name: "ID past int64", payload: "9223372036854775808:a\r\n", want: frameBadID},
		{name: "no ID", payload: ":a\r\n", want: frameBadID},
		{name: "just CRLF", payload: "\r\n", want: frameBadID},
		{name: "another node's ID", payload: id3 + ":a\r\n", want: frameWrongNode},
		{name: "another node's ID after a good one", payload: id2 + ":a\r\n" + id3 + ":b\r\n", want: frameWrongNode},
		{name: "empty line", payload: id2 + ":\r\n", want: frameEmptyLine},
		{name: "a line past max", payload: id2 + ":" + strings.Repeat("x", 11) + "\r\n", want: frameTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := checkFrames([]byte(tc.payload), 2, 10)
			if err != tc.want || (err == frameOK && lines != tc.lines) {
				t.Fatalf("checkFrames(%q) = %d, %q; want %d, %q", tc.payload, lines, err, tc.lines, tc.want)
			}
		})
	}
}

// TestNodeBitsMatchSnowflake: the node bits read here are those the
// snowflake package puts in, for every node number.
func TestNodeBitsMatchSnowflake(t *testing.T) {
	for node := int64(0); node <= MaxNode; node++ {
		n, err := snowflake.NewNode(node)
		if err != nil {
			t.Fatal(err)
		}
		id := n.Generate()
		if got := int(uint64(id.Int64())>>nodeShift) & MaxNode; int64(got) != id.Node() || int64(got) != node {
			t.Fatalf("node %d: bits say %d, snowflake says %d", node, got, id.Node())
		}
	}
}

// benchPayload is a batch of lines frames as a node publishes it.
func benchPayload(b *testing.B, node int64, lines, lineLen int) []byte {
	id := idOf(b, node)
	var sb strings.Builder
	for i := range lines {
		sb.WriteString(id)
		sb.WriteByte(':')
		line := strconv.Itoa(i) + strings.Repeat("x", lineLen)
		sb.WriteString(line[:lineLen])
		sb.WriteString("\r\n")
	}
	return []byte(sb.String())
}

// BenchmarkCheckFrames: the receive-side frame check per message.
func BenchmarkCheckFrames(b *testing.B) {
	for _, bc := range []struct {
		name           string
		lines, lineLen int
	}{
		{name: "lines=1/len=32", lines: 1, lineLen: 32},
		{name: "lines=16/len=32", lines: 16, lineLen: 32},
		{name: "lines=256/len=32", lines: 256, lineLen: 32},
		{name: "lines=16/len=1024", lines: 16, lineLen: 1024},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchPayload(b, 2, bc.lines, bc.lineLen)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if n, err := checkFrames(p, 2, DefaultMaxLine); err != frameOK || n != bc.lines {
					b.Fatal(n, err)
				}
			}
		})
	}
}
