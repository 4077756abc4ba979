package server

// Reason says why a connection closed. Logs and metrics share these names.
type Reason uint8

// Close reasons.
const (
	ReasonNone         Reason = iota // still open
	ReasonClientQuit                 // the client closed its side
	ReasonIOError                    // a read or write failed (reset, timeout)
	ReasonSlowConsumer               // outbound queue passed --max-pending
	ReasonLineTooLong                // a line passed --max-line
	ReasonServerFull                 // --max-conns reached
	ReasonShutdown                   // the server is shutting down
)

var reasonNames = [...]string{
	ReasonNone:         "open",
	ReasonClientQuit:   "client_quit",
	ReasonIOError:      "io_error",
	ReasonSlowConsumer: "slow_consumer",
	ReasonLineTooLong:  "line_too_long",
	ReasonServerFull:   "server_full",
	ReasonShutdown:     "shutdown",
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
)
