package server

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/fanout/fanout/internal/flagtext"
)

// flagName is a `fanout serve` flag's name, without its dashes. The server
// owns its flags (RegisterFlags); everything that names one (a
// ConfigError, a listenSpec) names it through these constants, so a flag
// is spelt once. main adds only its own flags (logging, --ready-file).
type flagName string

// The serve flags, by area (as Validate checks them).
const (
	// Listeners.
	flagAddr      flagName = "addr"
	flagReusePort flagName = "reuseport"
	flagUnixMode  flagName = "unix-mode"
	// Limits.
	flagLoops           flagName = "loops"
	flagShards          flagName = "shards"
	flagNode            flagName = "node"
	flagMaxLine         flagName = "max-line"
	flagWriteDeadline   flagName = "write-deadline"
	flagMaxLag          flagName = "max-lag"
	flagSlowReader      flagName = "slow-reader"
	flagMaxPending      flagName = "max-pending" // removed
	flagMaxHeld         flagName = "max-held"    // removed
	flagMaxConns        flagName = "max-conns"
	flagDrainTimeout    flagName = "drain-timeout"
	flagCoalesce        flagName = "coalesce"
	flagMaxConnsPerIP   flagName = "max-conns-per-ip"
	flagRateLimit       flagName = "rate-limit"
	flagRateBurst       flagName = "rate-burst"
	flagFlood           flagName = "flood"
	flagIdleTimeout     flagName = "idle-timeout"
	flagTCPKeepAlive    flagName = "tcp-keepalive"
	flagTCPNotsentLowat flagName = "tcp-notsent-lowat"
	// PROXY protocol.
	flagProxyProtocol      flagName = "proxy-protocol"
	flagDirectAddr         flagName = "direct-addr"
	flagProxyHeaderTimeout flagName = "proxy-header-timeout"
	flagProxyFrom          flagName = "proxy-from"
	// The WebSocket listener.
	flagWSAddr             flagName = "ws-addr"
	flagWSOrigin           flagName = "ws-origin"
	flagWSPing             flagName = "ws-ping"
	flagWSHandshakeTimeout flagName = "ws-handshake-timeout"
	flagWSMaxHeader        flagName = "ws-max-header"
	// The metrics and control listener.
	flagMetricsAddr    flagName = "metrics-addr"
	flagPprof          flagName = "pprof"
	flagAdminToken     flagName = "admin-token"
	flagAdminTokenFile flagName = "admin-token-file"
	flagAdminReads     flagName = "admin-reads"
	// Cluster.
	flagCluster              flagName = "cluster"
	flagClusterSubject       flagName = "cluster-subject"
	flagClusterCreds         flagName = "cluster-creds"
	flagClusterTLSCA         flagName = "cluster-tls-ca"
	flagClusterTLSCert       flagName = "cluster-tls-cert"
	flagClusterTLSKey        flagName = "cluster-tls-key"
	flagClusterReconnectWait flagName = "cluster-reconnect-wait"
	flagClusterKeyFile       flagName = "cluster-key-file"
)

// String is the flag as users type it: --max-line.
func (f flagName) String() string { return "--" + string(f) }

// errMaxPendingRemoved explains a flag that no longer exists (said to
// the user as it is, without the package's name).
var errMaxPendingRemoved = errors.New("--max-pending was removed: clients are no longer cut for the size of their queue, " +
	"only when they stop reading (--write-deadline, default 10s) or fall --max-lag bytes behind (default 64 MiB)")

// errMaxHeldRemoved explains a flag that no longer exists.
var errMaxHeldRemoved = errors.New("--max-held was removed: a sender is no longer cut for sending fast; " +
	"while readers catch up the server stops reading its socket and TCP slows it down (see --slow-reader)")

// RegisterFlags binds every Config field to its flag in fs, each starting
// from c's value (DefaultConfig for `fanout serve`), as nats-server's
// ConfigureOptions does for its options.
func RegisterFlags(fs *flag.FlagSet, c *Config) {
	// Listeners.
	bind(fs, &c.Addr, flagAddr, "listen address host:port (port 0 picks a free port) or unix:///path; several, comma-separated")
	bind(fs, &c.ReusePort, flagReusePort, "set SO_REUSEPORT on TCP listeners (needs a fixed port)")
	bind(fs, (*fileModeValue)(&c.UnixMode), flagUnixMode, "permission bits for unix sockets, octal, e.g. 0660 (default: as the umask leaves them)")

	// PROXY protocol.
	bind(fs, &c.ProxyProtocol, flagProxyProtocol, "every --addr listener expects a PROXY protocol v1/v2 header first (from haproxy, nginx, a load balancer); its client address counts for --max-conns-per-ip, logs and /connz")
	bind(fs, &c.DirectAddr, flagDirectAddr, "with --proxy-protocol: more listeners, as in --addr, where clients connect directly without a header")
	bind(fs, &c.ProxyHeaderTimeout, flagProxyHeaderTimeout, "close a connection to a PROXY listener that has not sent its header within this")
	bind(fs, &c.ProxyFrom, flagProxyFrom, "with --proxy-protocol: CIDRs or IPs of the trusted proxies, comma-separated; connections to a PROXY listener from elsewhere are refused (empty = any)")

	// The WebSocket listener.
	bind(fs, &c.WSAddr, flagWSAddr, "WebSocket listener, host:port or unix:///path (several comma-separated), on the same event loops: GET /ws upgrades, GET / serves the page (empty = off)")
	bind(fs, &c.WSOrigin, flagWSOrigin, "origins (scheme://host[:port], comma-separated) whose pages may open a WebSocket, or * for any (empty = same host only; requests without Origin are allowed)")
	bind(fs, &c.WSPing, flagWSPing, "ping a WebSocket client silent this long; close it when it stays silent as long again")
	bind(fs, &c.WSHandshakeTimeout, flagWSHandshakeTimeout, "close a WebSocket connection whose HTTP request is not complete within this")
	bind(fs, &c.WSMaxHeader, flagWSMaxHeader, "longest HTTP request head on the WebSocket listener, bytes (431 past it)")

	// Limits.
	bind(fs, &c.Loops, flagLoops, "event loops (the default shown is this machine's CPU count)")
	bind(fs, &c.Shards, flagShards, "registry shards")
	bind(fs, &c.Node, flagNode, "snowflake node number 0..1023 (distinct per server)")
	bind(fs, &c.MaxLine, flagMaxLine, "longest line a client may send, bytes")
	bind(fs, &c.WriteDeadline, flagWriteDeadline, "cut off a client that is owed lines and whose socket takes nothing for this long")
	bind(fs, &c.MaxLag, flagMaxLag, "cut off a client this many bytes behind that is not reading; readers half this far behind hold senders back")
	bind(fs, &c.SlowReader, flagSlowReader, "a reader that keeps holding senders back while most others read at least 4x as fast: cut (once it has done so for --write-deadline) or pace (slow everyone to it)")
	bind(fs, &c.MaxConns, flagMaxConns, "concurrent connection limit (0 = as many as the open-file limit allows, less what the server keeps for itself; more than that is refused)")
	bind(fs, &c.DrainTimeout, flagDrainTimeout, "how long shutdown waits for queued lines to be written")
	bind(fs, &c.Coalesce, flagCoalesce, "upper bound of the coalescing window, which otherwise tunes itself: delivery rounds start what they cost to write divided by a duty apart, the duty falling while the CPUs are saturated and rising while they have room (0 = off: rounds as soon as lines arrive)")
	bind(fs, &c.MaxConnsPerIP, flagMaxConnsPerIP, "connections from one source IP (0 = no limit)")
	bind(fs, &c.RateLimit, flagRateLimit, "lines/s each connection may send, token bucket (0 = no flood control)")
	bind(fs, &c.RateBurst, flagRateBurst, "lines a connection may send at once above --rate-limit (0 = the rate, rounded up); only with --rate-limit")
	bind(fs, &c.Flood, flagFlood, "past --rate-limit: close (the default: send ERR flood and close) or drop (drop and count the excess); only with --rate-limit")
	bind(fs, &c.IdleTimeout, flagIdleTimeout, "close connections that send nothing for this long (0 = never)")
	bind(fs, &c.TCPKeepAlive, flagTCPKeepAlive, "TCP keep-alive: probe a peer silent this long, close it after 5 unanswered probes a fifth of this apart (a vanished peer goes within twice this; 0 = off)")
	bind(fs, &c.TCPNotsentLowat, flagTCPNotsentLowat, "bytes a client socket may hold that the kernel has not sent yet (TCP_NOTSENT_LOWAT, Linux): bounds the kernel memory of each reader behind; the server's log keeps the rest once (0 = the kernel's default)")

	// The metrics and control listener.
	bind(fs, &c.MetricsAddr, flagMetricsAddr, "HTTP address, e.g. 127.0.0.1:9100 (empty = off), for /metrics, /healthz, /readyz, /varz, GET /connz and /connz/{id}, DELETE /connz/{id} (kick, with the admin token), and /debug/pprof/ with --pprof")
	bind(fs, &c.Pprof, flagPprof, "serve /debug/pprof/ on the metrics listener")
	bind(fs, &c.AdminToken, flagAdminToken, "enables DELETE /connz/{id} (kick) for requests with \"Authorization: Bearer <token>\" (empty = disabled); prefer the file or FANOUT_ADMIN_TOKEN")
	bind(fs, &c.AdminTokenFile, flagAdminTokenFile, "read the admin token from this file")
	bind(fs, &c.AdminReads, flagAdminReads, "GET /connz, /connz/{id} and /debug/pprof/ need the admin token too (they show client addresses and the process's insides)")

	// Cluster.
	bind(fs, &c.ClusterURLs, flagCluster, "join a broadcast domain through NATS: nats://host:4222[,nats://…] (empty = standalone)")
	bind(fs, &c.ClusterSubject, flagClusterSubject, "NATS subject of the broadcast domain")
	bind(fs, &c.ClusterCreds, flagClusterCreds, "NATS credentials file")
	bind(fs, &c.ClusterTLSCA, flagClusterTLSCA, "CA file to verify the NATS server")
	bind(fs, &c.ClusterTLSCert, flagClusterTLSCert, "client certificate for NATS (with --cluster-tls-key)")
	bind(fs, &c.ClusterTLSKey, flagClusterTLSKey, "client key for NATS")
	bind(fs, &c.ClusterReconnectWait, flagClusterReconnectWait, "pause between reconnect attempts to NATS")
	bind(fs, &c.ClusterKeyFile, flagClusterKeyFile, "file of the cluster key (one per line, ≥ 32 bytes; a second accepted, for rotation): messages and node checks are signed with HMAC-SHA256 and only signed ones believed (empty = unauthenticated)")

	// Removed: each says what took its place.
	fs.Func(string(flagMaxPending), "removed: see --write-deadline and --max-lag", func(string) error { return errMaxPendingRemoved })
	fs.Func(string(flagMaxHeld), "removed: senders are slowed through TCP, never cut", func(string) error { return errMaxHeldRemoved })
}

// fileModeValue is a flag.Value of permission bits, in octal both ways.
type fileModeValue os.FileMode

func (m *fileModeValue) Set(v string) error {
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil {
		return fmt.Errorf("not an octal mode like 0660: %q", v)
	}
	*m = fileModeValue(n)
	return nil
}

func (m *fileModeValue) String() string {
	if m == nil || *m == 0 {
		return "0"
	}
	return fmt.Sprintf("%#o", uint32(*m))
}

// Get returns the mode as it is written: "0660".
func (m *fileModeValue) Get() any { return m.String() }

// bind registers the flag name for *p, starting from *p, with the flag
// package's own value types (flagtext's duration, which teaches the
// syntax, for a time.Duration; p itself when it is a flag.Value).
// A field of another type is a programming error that every test which
// registers the flags finds.
func bind[T any](fs *flag.FlagSet, p *T, name flagName, usage string) {
	switch p := any(p).(type) {
	case *string:
		fs.StringVar(p, string(name), *p, usage)
	case *bool:
		fs.BoolVar(p, string(name), *p, usage)
	case *int:
		fs.IntVar(p, string(name), *p, usage)
	case *int64:
		fs.Int64Var(p, string(name), *p, usage)
	case *float64:
		fs.Float64Var(p, string(name), *p, usage)
	case *time.Duration:
		flagtext.DurationVar(fs, p, string(name), *p, usage)
	case flag.Value:
		fs.Var(p, string(name), usage)
	default:
		panic(fmt.Sprintf("server: flag %s: no flag for a %T", name.String(), p))
	}
}
