package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
)

// Cluster keys. With a key, a node signs everything it sends (broadcast
// messages, node-number questions and answers) with HMAC-SHA256 and
// believes only what carries a valid MAC; the rest is dropped and counted.
const (
	MinKeyLen = 32 // bytes per key
	MaxKeys   = 2  // the signing key and one more accepted, for rotation
	macLen    = sha256.Size
)

// What a MAC covers, by kind: a domain-separation prefix, then fields that
// cannot hold a '\n' (a subject, canonical header values), each ended by
// one, then the payload's length in decimal and a '\n', and last the
// payload, so no two messages share an input.
const (
	macKindMessage = "fanout-msg-v1\n"    // subject, node, seq; payload
	macKindAsk     = "fanout-ask-v1\n"    // control subject, reply inbox
	macKindAnswer  = "fanout-answer-v1\n" // control subject, reply inbox; answer
)

// ErrBadKeyFile is wrapped by ParseKeys' errors. They never quote the file.
var ErrBadKeyFile = errors.New("cluster: bad cluster key file")

// ParseKeys reads a cluster key file: one key per line, surrounding
// whitespace and blank lines ignored, each at least MinKeyLen bytes (e.g.
// `openssl rand -base64 48`), at most MaxKeys. The first signs; every one
// verifies, so a key is rotated by adding the new one second on every
// node, then moving it first, then dropping the old one.
func ParseKeys(file []byte) ([][]byte, error) {
	var keys [][]byte
	for n, line := range bytes.Split(file, []byte("\n")) {
		k := bytes.TrimSpace(line)
		if len(k) == 0 {
			continue
		}
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("%w: the key on line %d is %d bytes, want at least %d", ErrBadKeyFile, n+1, len(k), MinKeyLen)
		}
		keys = append(keys, bytes.Clone(k))
	}
	switch {
	case len(keys) == 0:
		return nil, fmt.Errorf("%w: no key in it", ErrBadKeyFile)
	case len(keys) > MaxKeys:
		return nil, fmt.Errorf("%w: %d keys, at most %d (the signing key and the one being rotated out)", ErrBadKeyFile, len(keys), MaxKeys)
	}
	return keys, nil
}

// macer computes and checks MACs with a node's keys. Not safe for
// concurrent use: each goroutine that signs or verifies has its own (the
// publisher, the subscription, the control responder); each reuses its
// hashes and scratch, so a MAC allocates nothing.
type macer struct {
	hashes  []hash.Hash // one per key; hashes[0] signs
	scratch []byte      // the fields before the payload
	length  [21]byte    // the payload's length, in decimal, and '\n'
	sum     [macLen]byte
}

func newMacer(keys [][]byte) *macer {
	if len(keys) == 0 {
		return nil
	}
	m := &macer{scratch: make([]byte, 0, 256)}
	for _, k := range keys {
		m.hashes = append(m.hashes, hmac.New(sha256.New, k))
	}
	return m
}

// fields prepares the MAC input up to the payload.
func (m *macer) fields(kind string, fields ...string) {
	m.scratch = append(m.scratch[:0], kind...)
	for _, f := range fields {
		m.scratch = append(m.scratch, f...)
		m.scratch = append(m.scratch, '\n')
	}
}

// compute writes key k's MAC of the prepared fields, the payload's length
// and the payload to m.sum.
func (m *macer) compute(k int, payload []byte) {
	h := m.hashes[k]
	h.Reset()
	h.Write(m.scratch)
	h.Write(append(strconv.AppendInt(m.length[:0], int64(len(payload)), 10), '\n'))
	h.Write(payload)
	h.Sum(m.sum[:0])
}

// sign returns the hex MAC of the prepared fields and payload under the
// signing key.
func (m *macer) sign(payload []byte) string {
	m.compute(0, payload)
	var out [2 * macLen]byte
	hex.Encode(out[:], m.sum[:])
	return string(out[:])
}

// verify reports whether mac (hex, from a header) is the MAC of the
// prepared fields and payload under any key. On success m.sum holds it.
// The comparison takes the same time wherever the two differ.
func (m *macer) verify(mac string, payload []byte) bool {
	var got [macLen]byte
	if !hexDecode(got[:], mac) {
		return false
	}
	for k := range m.hashes {
		m.compute(k, payload)
		if hmac.Equal(got[:], m.sum[:]) {
			return true
		}
	}
	return false
}

// hexDecode reads exactly len(dst) bytes of lower-case hex from s (one
// spelling, as hex.Encode writes it) without making a []byte of s, as
// hex.Decode would need.
func hexDecode(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
