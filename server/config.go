package server

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Defaults for Config fields left at their zero value.
const (
	DefaultAddr         = ":8888"
	DefaultShards       = 64
	DefaultNode         = 1
	DefaultMaxLine      = 64 << 10
	DefaultMaxPending   = 8 << 20
	DefaultDrainTimeout = 5 * time.Second
	// fdReserve is how many file descriptors the default connection limit
	// leaves for listeners, logs and the runtime.
	fdReserve = 64
)

// Limits on Config values; past them a value is a mistake, not a setting.
const (
	maxLoops    = 1024
	maxShards   = 1 << 16
	maxNode     = 1023 // snowflake's 10 node bits
	maxMaxLine  = 64 << 20
	maxCoalesce = time.Second
)

// Config is the daemon's whole configuration. main fills it from flags and
// FANOUT_* environment variables; New fills zero fields with defaults and
// validates it before anything listens.
type Config struct {
	// Addr is the TCP listen address, host:port. Port 0 picks a free port.
	// Default ":8888".
	Addr string
	// Loops is the number of gnet event loops. Default: one per CPU.
	Loops int
	// Shards is the number of registry shards. Default 64.
	Shards int
	// Node is this server's snowflake node number, 0..1023; IDs are unique
	// only among servers with distinct node numbers. Zero is a valid node,
	// so it is not defaulted here: the --node flag defaults to DefaultNode.
	Node int64
	// MaxLine is the longest line a client may send, in bytes, without its
	// terminator. Default 64 KiB.
	MaxLine int
	// MaxPending is how many outbound bytes may be queued for one client
	// before it is disconnected as a slow consumer. Default 8 MiB.
	MaxPending int
	// MaxConns caps concurrent connections; past it a client gets
	// "ERR server full". Default (0): the process's open-file limit less a
	// small reserve, so the server says "full" before accept fails.
	MaxConns int
	// DrainTimeout bounds how long shutdown waits for queued lines to reach
	// their clients. Default 5s.
	DrainTimeout time.Duration
	// Coalesce is the shortest spacing of delivery rounds on one event loop
	// once rounds come back to back (under load); 0 turns it off. It never
	// delays a line that arrives after a quiet spell. Default 0.
	Coalesce time.Duration
}

// DefaultConfig returns a Config with every default filled in: the values
// the serve flags start from.
func DefaultConfig() Config {
	return Config{Node: DefaultNode}.withDefaults()
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.MaxLine == 0 {
		c.MaxLine = DefaultMaxLine
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns()
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	return c
}

// ConfigError names the setting (by its flag) that is wrong.
type ConfigError struct {
	Flag string // e.g. "--max-line"
	Msg  string
}

func (e *ConfigError) Error() string { return "invalid " + e.Flag + ": " + e.Msg }

// ErrConfig matches every *ConfigError with errors.Is.
var ErrConfig = errors.New("server: invalid config")

// Is makes errors.Is(err, ErrConfig) true for config errors.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

func bad(flag, format string, args ...any) error {
	return &ConfigError{Flag: flag, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid setting, naming its flag.
func (c Config) Validate() error {
	if err := validateAddr(c.Addr); err != nil {
		return err
	}
	switch {
	case c.Loops < 1 || c.Loops > maxLoops:
		return bad("--loops", "must be 1..%d, got %d", maxLoops, c.Loops)
	case c.Shards < 1 || c.Shards > maxShards:
		return bad("--shards", "must be 1..%d, got %d", maxShards, c.Shards)
	case c.Node < 0 || c.Node > maxNode:
		return bad("--node", "must be 0..%d, got %d", maxNode, c.Node)
	case c.MaxLine < 1 || c.MaxLine > maxMaxLine:
		return bad("--max-line", "must be 1..%d bytes, got %d", maxMaxLine, c.MaxLine)
	case c.MaxPending < c.MaxLine+frameOverhead:
		return bad("--max-pending", "must hold at least one full line (%d bytes), got %d",
			c.MaxLine+frameOverhead, c.MaxPending)
	case c.MaxConns < 1:
		return bad("--max-conns", "must be at least 1, got %d", c.MaxConns)
	case c.DrainTimeout < 0:
		return bad("--drain-timeout", "must not be negative, got %s", c.DrainTimeout)
	case c.Coalesce < 0 || c.Coalesce > maxCoalesce:
		return bad("--coalesce", "must be 0..%s, got %s", maxCoalesce, c.Coalesce)
	}
	return nil
}

// frameOverhead is the most a frame adds to a line: a 19-digit ID, ':' and
// "\r\n".
const frameOverhead = 22

func validateAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return bad("--addr", "%q is not host:port: %v", addr, err)
	}
	if strings.Contains(host, "/") {
		return bad("--addr", "%q: bad host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return bad("--addr", "%q: port must be 0..65535", addr)
	}
	return nil
}
