package server

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
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
	flagLoops         flagName = "loops"
	flagShards        flagName = "shards"
	flagNode          flagName = "node"
	flagMaxLine       flagName = "max-line"
	flagWriteDeadline flagName = "write-deadline"
	flagMaxLag        flagName = "max-lag"
	flagSlowReader    flagName = "slow-reader"
	flagMaxPending    flagName = "max-pending" // removed
	flagMaxHeld       flagName = "max-held"    // removed
	flagMaxConns      flagName = "max-conns"
	flagDrainTimeout  flagName = "drain-timeout"
	flagCoalesce      flagName = "coalesce"
	flagMaxConnsPerIP flagName = "max-conns-per-ip"
	flagRateLimit     flagName = "rate-limit"
	flagRateBurst     flagName = "rate-burst"
	flagFlood         flagName = "flood"
	flagIdleTimeout   flagName = "idle-timeout"
	flagTCPKeepAlive  flagName = "tcp-keepalive"
	// PROXY protocol.
	flagProxyProtocol      flagName = "proxy-protocol"
	flagDirectAddr         flagName = "direct-addr"
	flagProxyHeaderTimeout flagName = "proxy-header-timeout"
	flagProxyFrom          flagName = "proxy-from"
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
	fs.StringVar(&c.Addr, string(flagAddr), c.Addr, "listen address host:port (port 0 picks a free port) or unix:///path; several, comma-separated")
	fs.BoolVar(&c.ReusePort, string(flagReusePort), c.ReusePort, "set SO_REUSEPORT on TCP listeners (needs a fixed port)")
	fs.Var((*fileModeValue)(&c.UnixMode), string(flagUnixMode), "permission bits for unix sockets, octal, e.g. 0660 (default: as the umask leaves them)")

	// PROXY protocol.
	fs.BoolVar(&c.ProxyProtocol, string(flagProxyProtocol), c.ProxyProtocol, "every --addr listener expects a PROXY protocol v1/v2 header first (from haproxy, nginx, a load balancer); its client address counts for --max-conns-per-ip, logs and /connz")
	fs.StringVar(&c.DirectAddr, string(flagDirectAddr), c.DirectAddr, "with --proxy-protocol: more listeners, as in --addr, where clients connect directly without a header")
	durationVar(fs, &c.ProxyHeaderTimeout, flagProxyHeaderTimeout, "close a connection to a PROXY listener that has not sent its header within this")
	fs.StringVar(&c.ProxyFrom, string(flagProxyFrom), c.ProxyFrom, "with --proxy-protocol: CIDRs or IPs of the trusted proxies, comma-separated; connections to a PROXY listener from elsewhere are refused (empty = any)")

	// Limits.
	fs.IntVar(&c.Loops, string(flagLoops), c.Loops, "event loops (the default shown is this machine's CPU count)")
	fs.IntVar(&c.Shards, string(flagShards), c.Shards, "registry shards")
	fs.Int64Var(&c.Node, string(flagNode), c.Node, "snowflake node number 0..1023 (distinct per server)")
	fs.IntVar(&c.MaxLine, string(flagMaxLine), c.MaxLine, "longest line a client may send, bytes")
	durationVar(fs, &c.WriteDeadline, flagWriteDeadline, "cut off a client that is owed lines and whose socket takes nothing for this long")
	fs.IntVar(&c.MaxLag, string(flagMaxLag), c.MaxLag, "cut off a client this many bytes behind that is not reading; readers half this far behind hold senders back")
	fs.StringVar(&c.SlowReader, string(flagSlowReader), c.SlowReader, "a reader that keeps holding senders back while the others keep up: cut (once it has done so for --write-deadline) or pace (slow everyone to it)")
	fs.Func(string(flagMaxPending), "removed: see --write-deadline and --max-lag", func(string) error { return errMaxPendingRemoved })
	fs.Func(string(flagMaxHeld), "removed: senders are slowed through TCP, never cut", func(string) error { return errMaxHeldRemoved })
	fs.IntVar(&c.MaxConns, string(flagMaxConns), c.MaxConns, "concurrent connection limit (0 = as many as the open-file limit allows, less what the server keeps for itself; more than that is refused)")
	durationVar(fs, &c.DrainTimeout, flagDrainTimeout, "how long shutdown waits for queued lines to be written")
	durationVar(fs, &c.Coalesce, flagCoalesce, "upper bound of the coalescing window, which otherwise tunes itself: delivery rounds start what they cost to write divided by a duty apart, the duty falling while the CPUs are saturated and rising while they have room (0 = off: rounds as soon as lines arrive)")
	fs.IntVar(&c.MaxConnsPerIP, string(flagMaxConnsPerIP), c.MaxConnsPerIP, "connections from one source IP (0 = no limit)")
	fs.Float64Var(&c.RateLimit, string(flagRateLimit), c.RateLimit, "lines/s each connection may send, token bucket (0 = no flood control)")
	fs.IntVar(&c.RateBurst, string(flagRateBurst), c.RateBurst, "lines a connection may send at once above --rate-limit (0 = the rate, rounded up); only with --rate-limit")
	fs.StringVar(&c.Flood, string(flagFlood), c.Flood, "past --rate-limit: close (the default: send ERR flood and close) or drop (drop and count the excess); only with --rate-limit")
	durationVar(fs, &c.IdleTimeout, flagIdleTimeout, "close connections that send nothing for this long (0 = never)")
	durationVar(fs, &c.TCPKeepAlive, flagTCPKeepAlive, "TCP keep-alive: probe a peer silent this long, close it after 5 unanswered probes a fifth of this apart (a vanished peer goes within twice this; 0 = off)")

	// The metrics and control listener.
	fs.StringVar(&c.MetricsAddr, string(flagMetricsAddr), c.MetricsAddr, "HTTP address, e.g. 127.0.0.1:9100 (empty = off), for /metrics, /healthz, /readyz, /varz, GET /connz and /connz/{id}, DELETE /connz/{id} (kick, with the admin token), and /debug/pprof/ with --pprof")
	fs.BoolVar(&c.Pprof, string(flagPprof), c.Pprof, "serve /debug/pprof/ on the metrics listener")
	fs.StringVar(&c.AdminToken, string(flagAdminToken), c.AdminToken, "enables DELETE /connz/{id} (kick) for requests with \"Authorization: Bearer <token>\" (empty = disabled); prefer the file or FANOUT_ADMIN_TOKEN")
	fs.StringVar(&c.AdminTokenFile, string(flagAdminTokenFile), c.AdminTokenFile, "read the admin token from this file")
	fs.BoolVar(&c.AdminReads, string(flagAdminReads), c.AdminReads, "GET /connz, /connz/{id} and /debug/pprof/ need the admin token too (they show client addresses and the process's insides)")

	// Cluster.
	fs.StringVar(&c.ClusterURLs, string(flagCluster), c.ClusterURLs, "join a broadcast domain through NATS: nats://host:4222[,nats://…] (empty = standalone)")
	fs.StringVar(&c.ClusterSubject, string(flagClusterSubject), c.ClusterSubject, "NATS subject of the broadcast domain")
	fs.StringVar(&c.ClusterCreds, string(flagClusterCreds), c.ClusterCreds, "NATS credentials file")
	fs.StringVar(&c.ClusterTLSCA, string(flagClusterTLSCA), c.ClusterTLSCA, "CA file to verify the NATS server")
	fs.StringVar(&c.ClusterTLSCert, string(flagClusterTLSCert), c.ClusterTLSCert, "client certificate for NATS (with --cluster-tls-key)")
	fs.StringVar(&c.ClusterTLSKey, string(flagClusterTLSKey), c.ClusterTLSKey, "client key for NATS")
	durationVar(fs, &c.ClusterReconnectWait, flagClusterReconnectWait, "pause between reconnect attempts to NATS")
	fs.StringVar(&c.ClusterKeyFile, string(flagClusterKeyFile), c.ClusterKeyFile, "file of the cluster key (one per line, ≥ 32 bytes; a second accepted, for rotation): messages and node checks are signed with HMAC-SHA256 and only signed ones believed (empty = unauthenticated)")
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

// durationVar registers a duration flag whose errors teach the syntax:
// flag's own says only "parse error", which leaves "10" a mystery.
func durationVar(fs *flag.FlagSet, p *time.Duration, name flagName, usage string) {
	fs.Var((*durationValue)(p), string(name), usage)
}

// durationValue is a flag.Value holding a time.Duration.
type durationValue time.Duration

func (d *durationValue) Set(v string) error {
	parsed, err := time.ParseDuration(v)
	if err != nil {
		if _, numErr := strconv.ParseFloat(v, 64); numErr == nil {
			return fmt.Errorf("a duration needs a unit, e.g. %ss or %sms", v, v)
		}
		return fmt.Errorf("not a duration: give a number and a unit, e.g. 10s, 500ms or 1m30s")
	}
	*d = durationValue(parsed)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }

// Get returns the time.Duration.
func (d *durationValue) Get() any { return time.Duration(*d) }
