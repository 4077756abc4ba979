package shard

// Encoding is how a member's stream is framed: every member of a Fanout
// gets the same lines, each encoded once per batch in the encoding of the
// members that need it (see batch).
type Encoding uint8

const (
	// TCPLines frames each line as "<id>:<line>\r\n".
	TCPLines Encoding = iota
	// WebSocket frames each line as one unmasked WebSocket message
	// "<id>:<line>", a text message when the line is valid UTF-8 and a
	// binary one otherwise (RFC 6455).
	WebSocket
	encodings // how many there are
)

func (e Encoding) String() string {
	if e == WebSocket {
		return "ws"
	}
	return "tcp"
}

// NewWebSocketMember returns a member whose stream is WebSocket messages.
// It receives nothing until it joins a hub.
func NewWebSocketMember(id int64, conn Sink) *Member {
	m := NewMember(id, conn)
	m.enc = WebSocket
	return m
}

// Encoding returns how the member's stream is framed.
func (m *Member) Encoding() Encoding { return m.enc }
