package server

// Reason says why a connection closed. Logs and metrics share these names.
type Reason uint8

// Close reasons.
const (
	ReasonNone         Reason = iota // still open
	ReasonClientQuit                 // the client closed its side
	ReasonIOError                    // a read or write failed (reset, timeout)
	ReasonSlowConsumer               // did not read: --write-deadline or --max-lag
	ReasonLineTooLong                // a line passed --max-line
	ReasonServerFull                 // --max-conns reached
	ReasonTooManyConns               // --max-conns-per-ip reached
	ReasonFlood                      // past --rate-limit with --flood=close
	ReasonIdle                       // silent for --idle-timeout
	ReasonKicked                     // an operator closed it (DELETE /connz/{id})
	ReasonProxyHeader                // PROXY listener: no valid header in time, or not from --proxy-from
	ReasonShutdown                   // the server is shutting down
	ReasonWSHandshake                // WebSocket listener: a refused request (bad, not an upgrade, Origin) or none in time
	ReasonWSProtocol                 // a WebSocket frame broke RFC 6455 (unmasked, bad length, bad UTF-8, ...)
	ReasonWSNoPong                   // a WebSocket client did not answer the server's ping within --ws-ping
	ReasonPageServed                 // GET / on the WebSocket listener: the page was sent
	reasonCount                      // how many reasons there are
)

var reasonNames = [...]string{
	ReasonNone:         "open",
	ReasonClientQuit:   "client_quit",
	ReasonIOError:      "io_error",
	ReasonSlowConsumer: "slow_consumer",
	ReasonLineTooLong:  "line_too_long",
	ReasonServerFull:   "server_full",
	ReasonTooManyConns: "too_many_conns",
	ReasonFlood:        "flood",
	ReasonIdle:         "idle",
	ReasonKicked:       "kicked",
	ReasonProxyHeader:  "proxy_header",
	ReasonShutdown:     "shutdown",
	ReasonWSHandshake:  "ws_handshake",
	ReasonWSProtocol:   "ws_protocol",
	ReasonWSNoPong:     "ws_no_pong",
	ReasonPageServed:   "page_served",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Messages sent to a client right before the server closes it.
var (
	msgLineTooLong = []byte("ERR line too long\r\n")
	msgServerFull  = []byte("ERR server full\r\n")
	msgTooMany     = []byte("ERR too many connections\r\n")
	msgFlood       = []byte("ERR flood\r\n")
	msgKicked      = []byte("ERR kicked\r\n")
	msgProxyHeader = []byte("ERR bad proxy header\r\n")
)
