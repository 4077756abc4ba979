package server

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/shard"
)

// Defaults for Config fields left at their zero value.
const (
	DefaultAddr          = ":8888"
	DefaultShards        = 64
	DefaultNode          = 1
	DefaultMaxLine       = 64 << 10
	DefaultMaxLag        = shard.DefaultMaxLag
	DefaultWriteDeadline = shard.DefaultWriteDeadline
	DefaultDrainTimeout  = 5 * time.Second
	DefaultCoalesce      = 250 * time.Millisecond
	// DefaultTCPKeepAlive is the --tcp-keepalive default: a dead peer is
	// found within 2 minutes, at the cost of one probe a minute on a
	// connection that is otherwise silent.
	DefaultTCPKeepAlive = time.Minute
	// DefaultTCPNotsentLowat is the --tcp-notsent-lowat default: a socket
	// behind holds at most 512 KiB the kernel has not sent yet (plus what
	// is in flight), instead of up to net.ipv4.tcp_wmem's maximum (4 MiB
	// by default) per connection.
	DefaultTCPNotsentLowat = 512 << 10
	// DefaultProxyHeaderTimeout is how long a connection to a PROXY
	// listener may take to send its header.
	DefaultProxyHeaderTimeout = 5 * time.Second
)

// Limits on Config values; past them a value is a mistake, not a setting.
const (
	// Below minNotsentLowat every write to a reader behind would move a
	// few kilobytes (a syscall each); above maxNotsentLowat it bounds
	// nothing tcp_wmem does not.
	minNotsentLowat = 16 << 10
	maxNotsentLowat = 64 << 20
	maxLoops        = 1024
	maxShards       = 1 << 16
	maxMaxLine      = 64 << 20
	maxCoalesce     = time.Second
	// minMaxLag keeps --max-lag above what one delivery round can add at
	// once (batches seal at 256 KiB), so a client that reads is never cut
	// for the size of one burst.
	minMaxLag        = 4 * shard.DefaultSealBytes
	minWriteDeadline = 100 * time.Millisecond
	maxWriteDeadline = time.Hour
	// The header timeout's bounds: below 10ms a header a proxy sends at
	// once could still be on the wire; past 10m it is not a timeout.
	minProxyHeaderTimeout = 10 * time.Millisecond
	maxProxyHeaderTimeout = 10 * time.Minute
)

// Config is the daemon's whole configuration. main fills it from flags and
// FANOUT_* environment variables; New fills zero fields with defaults and
// validates it before anything listens.
type Config struct {
	// Addr is the listen address: host:port (port 0 picks a free port) or
	// unix:///path, or several of them separated by commas. Default ":8888".
	// With ProxyProtocol, every one of them expects a PROXY header.
	Addr string
	// ProxyProtocol makes every listener in Addr (TCP and unix alike)
	// expect a PROXY protocol header, v1 or v2, at the start of each
	// connection; the client address it carries replaces the socket's for
	// MaxConnsPerIP, logs, metrics and /connz. A connection without a valid
	// header within ProxyHeaderTimeout is closed (reason "proxy_header").
	// PROXY UNKNOWN and v2 LOCAL (the proxy's own health checks) are
	// accepted and keep the socket's address. Default false.
	ProxyProtocol bool
	// DirectAddr lists more listeners, in Addr's syntax, where clients
	// connect directly and send no header. Only with ProxyProtocol (without
	// it every listener is direct: list them all in Addr). Default empty.
	DirectAddr string
	// ProxyHeaderTimeout bounds how long a connection to a PROXY listener
	// may take to send its header; it is closed within 1.25 times this.
	// Default 5s; 10ms..10m.
	ProxyHeaderTimeout time.Duration
	// ProxyFrom, when set, is a comma-separated list of CIDRs (or single
	// IPs) of the proxies whose headers are trusted: a TCP connection to a
	// PROXY listener from any other address is refused at once (reason
	// "proxy_header"). Peers on unix sockets are not checked: the socket's
	// permissions (UnixMode) decide who may connect. Default empty: any
	// source may send a header.
	ProxyFrom string
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
	// WriteDeadline: a client that is owed bytes and whose socket takes
	// none for this long is cut off as a slow consumer. Default 10s.
	WriteDeadline time.Duration
	// MaxLag: a client further behind the head of its event loop's
	// delivery log than this many bytes is cut off unless it is reading.
	// Readers that fall half of this behind while still reading make the
	// server stop reading senders' sockets (TCP slows them) until they are
	// back within a quarter. Default 64 MiB; at least 1 MiB and 4 times a
	// full line.
	MaxLag int
	// SlowReader says what becomes of a reader that keeps holding senders
	// back while most other readers read at least four times as fast (the
	// rule is in shard/pressure.go): SlowReaderCut (default) cuts
	// it once it has done so for WriteDeadline, SlowReaderPace slows
	// everyone to its pace instead.
	SlowReader string
	// MaxConns caps concurrent connections; past it a client gets
	// "ERR server full". Default (0): as many as the process's open-file
	// limit allows once the descriptors the server needs for itself are
	// kept back (fdReserve: about 200 with the defaults), so that accept
	// never runs out of descriptors. New refuses a larger value.
	MaxConns int
	// DrainTimeout bounds how long shutdown waits for queued lines to reach
	// their clients. Default 5s.
	DrainTimeout time.Duration
	// Coalesce caps the coalescing window of each event loop. Within it the
	// window chooses itself: delivery rounds start what they cost to write
	// divided by a duty apart, and the duty (the share of a loop's time
	// rounds may take, 0.05..1) falls while the process's CPUs are
	// saturated and rises while they have room. Cheap rounds get no window
	// to speak of, and a line after a quiet spell is never held. 0 turns
	// coalescing off. Zero is a valid setting, so it is not defaulted
	// here: the --coalesce flag (and DefaultConfig) default to
	// DefaultCoalesce, 250ms.
	Coalesce time.Duration

	// MaxConnsPerIP caps connections from one source IP; past it a client
	// gets "ERR too many connections". 0 (default) means no cap.
	MaxConnsPerIP int
	// RateLimit is each connection's sustained line rate, lines/s, enforced
	// by a token bucket; 0 (default) turns flood control off.
	RateLimit float64
	// RateBurst is how many lines a connection may send at once on top of
	// RateLimit. Default (0): RateLimit rounded up. Only with RateLimit.
	RateBurst int
	// Flood says what happens past the rate limit: FloodClose (default)
	// sends "ERR flood" and closes; FloodDrop drops and counts the excess.
	// Only with RateLimit: without one it stays empty.
	Flood string
	// IdleTimeout closes a connection that has sent nothing for this long;
	// 0 (default) never does. Receiving does not count as activity.
	IdleTimeout time.Duration
	// TCPKeepAlive is the keep-alive period on TCP connections: after
	// this long without traffic the kernel probes the peer, every fifth of
	// it, and closes the connection after 5 unanswered probes, so a peer
	// that vanished without a FIN (a host gone, a NAT that forgot it) is
	// closed within twice this, as NATS finds dead clients by pinging
	// them. 0 is off. Zero is a valid setting, so it is not defaulted
	// here: the --tcp-keepalive flag (and DefaultConfig) default to
	// DefaultTCPKeepAlive, 1m. At least 1s when set.
	TCPKeepAlive time.Duration
	// TCPNotsentLowat caps the bytes each client socket holds that the
	// kernel has not sent yet (TCP_NOTSENT_LOWAT, Linux): past it the
	// socket takes no more until its reader has taken some. Without it a
	// reader that is behind keeps up to net.ipv4.tcp_wmem's maximum (4
	// MiB by default) of copies of the log in the kernel, per reader; 500
	// such readers held 0.5-0.9 GB of kernel memory under overload and put
	// the host's TCP memory under pressure; 0.2-0.3 GB at the 512 KiB
	// default, and at 128 KiB the refills cost a sixth of a publisher's
	// rate (BENCHMARKS.md). The server's
	// log still holds the bytes once; the socket is refilled from it when
	// the kernel reports room. 0 leaves the kernel's default
	// (net.ipv4.tcp_notsent_lowat, unlimited unless set). Zero is valid,
	// so it is not defaulted here: the flag and DefaultConfig default to
	// DefaultTCPNotsentLowat, 512 KiB. 16 KiB to 64 MiB when set.
	TCPNotsentLowat int
	// ReusePort sets SO_REUSEPORT on the TCP listeners, so that several
	// processes can share a port. Needs a fixed port.
	ReusePort bool
	// UnixMode is the permission bits given to unix sockets once they are
	// bound (e.g. 0o660 so that a group can connect); 0 (default) leaves
	// what the process umask gave.
	UnixMode os.FileMode
	// MetricsAddr is the HTTP listen address for /metrics, /healthz and
	// /readyz; empty (default) serves none.
	MetricsAddr string
	// Pprof adds /debug/pprof/ to the metrics listener.
	Pprof bool
	// AdminToken enables the mutating control endpoints (DELETE
	// /connz/{id}) for requests carrying "Authorization: Bearer <token>".
	// Empty (default) leaves them disabled (403). AdminTokenFile reads it
	// from a file instead (trailing whitespace dropped); not both.
	AdminToken     string `json:"-"`
	AdminTokenFile string
	// AdminReads makes the endpoints that show clients or the process's
	// insides (GET /connz, GET /connz/{id}, /debug/pprof/) need the admin
	// token too. Default false: the metrics listener is off unless asked
	// for and meant for a private address, where dashboards read /connz
	// without credentials. Needs an admin token.
	AdminReads bool

	// ClusterURLs, when set, joins this node to a broadcast domain through
	// the NATS server(s) at these comma-separated nats:// URLs.
	ClusterURLs string
	// ClusterSubject is the domain's NATS subject. Default "fanout.broadcast".
	ClusterSubject string
	// ClusterCreds is a NATS credentials file; ClusterTLSCA, ClusterTLSCert
	// and ClusterTLSKey set up TLS to NATS. All optional.
	ClusterCreds, ClusterTLSCA, ClusterTLSCert, ClusterTLSKey string
	// ClusterReconnectWait is the pause between reconnect attempts to NATS.
	// Default 2s.
	ClusterReconnectWait time.Duration
	// ClusterKeyFile, when set, names a file of cluster keys (one per line,
	// at least 32 bytes each; a second one is accepted too, for rotation:
	// see cluster.ParseKeys). Every message and node-number check is then
	// signed with HMAC-SHA256 and only what carries a valid MAC is
	// believed. Every node of a domain needs the key. Needs ClusterURLs.
	// Default empty: messages are not authenticated.
	ClusterKeyFile string `json:"-"`

	// WSConfig holds the WebSocket listener's settings (config_ws.go).
	WSConfig
}

// Flood control modes.
const (
	FloodClose = "close"
	FloodDrop  = "drop"
)

// Slow-reader policies (Config.SlowReader).
const (
	SlowReaderCut  = "cut"
	SlowReaderPace = "pace"
)

// DefaultConfig returns a Config with every default filled in: the values
// the serve flags start from.
func DefaultConfig() Config {
	return Config{Node: DefaultNode, Coalesce: DefaultCoalesce, TCPKeepAlive: DefaultTCPKeepAlive,
		TCPNotsentLowat: DefaultTCPNotsentLowat}.withDefaults()
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
	if c.WriteDeadline == 0 {
		c.WriteDeadline = DefaultWriteDeadline
	}
	if c.MaxLag == 0 {
		c.MaxLag = DefaultMaxLag
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.ProxyHeaderTimeout == 0 {
		c.ProxyHeaderTimeout = DefaultProxyHeaderTimeout
	}
	if c.Flood == "" && c.RateLimit > 0 {
		c.Flood = FloodClose // without a rate limit there is nothing to flood: Flood stays unset
	}
	if c.SlowReader == "" {
		c.SlowReader = SlowReaderCut
	}
	if c.ClusterSubject == "" {
		c.ClusterSubject = cluster.DefaultSubject
	}
	if c.ClusterReconnectWait == 0 {
		c.ClusterReconnectWait = cluster.DefaultReconnectWait
	}
	c.wsDefaults()
	return c
}

// ConfigError names the setting (by its flag) that is wrong.
type ConfigError struct {
	Flag string // e.g. "--max-line": one of the flags RegisterFlags registers
	Msg  string
}

func (e *ConfigError) Error() string { return "invalid " + e.Flag + ": " + e.Msg }

func bad(flag flagName, format string, args ...any) error {
	return &ConfigError{Flag: flag.String(), Msg: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid setting, naming its flag. It checks
// one area after another, in the order RegisterFlags lists them.
func (c Config) Validate() error {
	specs, err := c.listenSpecs()
	if err != nil {
		return err
	}
	for _, check := range []func() error{func() error { return c.validateListeners(specs) },
		c.validateProxy, c.validateWS, c.validateLimits, c.validateControl, c.validateCluster} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateListeners checks the client listeners (their addresses were
// parsed into specs).
func (c Config) validateListeners(specs []listenSpec) error {
	switch {
	case c.ReusePort && slices.ContainsFunc(specs, func(l listenSpec) bool { return strings.HasSuffix(l.address, ":0") }):
		return bad(flagReusePort, "needs a fixed port: with port 0 every listener would get a port of its own")
	case c.UnixMode&^os.ModePerm != 0:
		return bad(flagUnixMode, "must be permission bits 0..0777, got %o", uint32(c.UnixMode))
	case c.UnixMode != 0 && !slices.ContainsFunc(specs, func(l listenSpec) bool { return l.network == "unix" }):
		return bad(flagUnixMode, "needs a unix:// address in --addr, --direct-addr or --ws-addr")
	}
	return nil
}

// validateProxy checks the PROXY protocol settings.
func (c Config) validateProxy() error {
	switch {
	case c.DirectAddr != "" && !c.ProxyProtocol:
		return bad(flagDirectAddr, "needs --proxy-protocol: without it every listener is direct, so list them all in --addr")
	case c.ProxyFrom != "" && !c.ProxyProtocol:
		return bad(flagProxyFrom, "needs --proxy-protocol: it says whose PROXY headers to trust")
	case c.ProxyHeaderTimeout < minProxyHeaderTimeout || c.ProxyHeaderTimeout > maxProxyHeaderTimeout:
		return bad(flagProxyHeaderTimeout, "must be %s..%s, got %s", minProxyHeaderTimeout, maxProxyHeaderTimeout, c.ProxyHeaderTimeout)
	}
	_, err := c.proxySources()
	return err
}

// validateLimits checks the sizes, counts and timeouts.
func (c Config) validateLimits() error {
	switch {
	case c.Loops < 1 || c.Loops > maxLoops:
		return bad(flagLoops, "must be 1..%d, got %d", maxLoops, c.Loops)
	case c.Shards < 1 || c.Shards > maxShards:
		return bad(flagShards, "must be 1..%d, got %d", maxShards, c.Shards)
	case c.Node < 0 || c.Node > cluster.MaxNode:
		return bad(flagNode, "must be 0..%d, got %d", cluster.MaxNode, c.Node)
	case c.MaxLine < 1 || c.MaxLine > maxMaxLine:
		return bad(flagMaxLine, "must be 1..%d bytes, got %d", maxMaxLine, c.MaxLine)
	case c.WriteDeadline < minWriteDeadline || c.WriteDeadline > maxWriteDeadline:
		return bad(flagWriteDeadline, "must be %s..%s, got %s", minWriteDeadline, maxWriteDeadline, c.WriteDeadline)
	case c.MaxLag < max(minMaxLag, 4*(c.MaxLine+frameOverhead)):
		return bad(flagMaxLag, "must be at least %d bytes (1 MiB, and 4 full lines of --max-line), got %d: "+
			"a smaller bound would cut clients that read for the size of one burst",
			max(minMaxLag, 4*(c.MaxLine+frameOverhead)), c.MaxLag)
	case c.SlowReader != SlowReaderCut && c.SlowReader != SlowReaderPace:
		return bad(flagSlowReader, "must be %q or %q, got %q", SlowReaderCut, SlowReaderPace, c.SlowReader)
	case c.MaxConns < 0:
		return bad(flagMaxConns, "must be at least 1 (or 0: as many as the open-file limit allows), got %d", c.MaxConns)
	case c.DrainTimeout < 0:
		return bad(flagDrainTimeout, "must not be negative, got %s", c.DrainTimeout)
	case c.Coalesce < 0 || c.Coalesce > maxCoalesce:
		return bad(flagCoalesce, "must be 0 (off) .. %s, got %s", maxCoalesce, c.Coalesce)
	case c.MaxConnsPerIP < 0:
		return bad(flagMaxConnsPerIP, "must not be negative, got %d", c.MaxConnsPerIP)
	case c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0):
		return bad(flagRateLimit, "must be a finite number ≥ 0, got %g", c.RateLimit)
	case c.RateBurst < 0:
		return bad(flagRateBurst, "must not be negative, got %d", c.RateBurst)
	case c.RateBurst > 0 && c.RateLimit == 0:
		return bad(flagRateBurst, "needs --rate-limit: without a rate there is no burst above it")
	case c.Flood != "" && c.Flood != FloodClose && c.Flood != FloodDrop:
		return bad(flagFlood, "must be %q or %q, got %q", FloodClose, FloodDrop, c.Flood)
	case c.Flood != "" && c.RateLimit == 0:
		return bad(flagFlood, "needs --rate-limit: it says what happens past the rate")
	case c.IdleTimeout < 0:
		return bad(flagIdleTimeout, "must not be negative, got %s", c.IdleTimeout)
	case c.TCPKeepAlive < 0 || (c.TCPKeepAlive > 0 && c.TCPKeepAlive < time.Second):
		return bad(flagTCPKeepAlive, "must be 0 (off) or at least 1s (the kernel counts in seconds), got %s", c.TCPKeepAlive)
	case c.TCPNotsentLowat != 0 && (c.TCPNotsentLowat < minNotsentLowat || c.TCPNotsentLowat > maxNotsentLowat):
		return bad(flagTCPNotsentLowat, "must be 0 (the kernel's default) or %d..%d bytes, got %d",
			minNotsentLowat, maxNotsentLowat, c.TCPNotsentLowat)
	}
	return nil
}

// validateControl checks the metrics listener and the admin token.
func (c Config) validateControl() error {
	switch {
	case c.AdminToken != "" && c.AdminTokenFile != "":
		return bad(flagAdminToken, "give the token or a file holding it (--admin-token-file), not both")
	case c.AdminReads && c.AdminToken == "" && c.AdminTokenFile == "":
		return bad(flagAdminReads, "needs an admin token (--admin-token-file, FANOUT_ADMIN_TOKEN or --admin-token)")
	case c.AdminReads && c.MetricsAddr == "":
		return bad(flagAdminReads, "needs --metrics-addr: it guards endpoints of the metrics listener")
	case c.AdminToken != "" && c.MetricsAddr == "":
		return bad(flagAdminToken, "needs --metrics-addr: the token guards endpoints of the metrics listener")
	case c.AdminTokenFile != "" && c.MetricsAddr == "":
		return bad(flagAdminTokenFile, "needs --metrics-addr: the token guards endpoints of the metrics listener")
	case c.MetricsAddr == "" && c.Pprof:
		return bad(flagPprof, "needs --metrics-addr: pprof is served on the metrics listener")
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return bad(flagMetricsAddr, "%q is not host:port: %v", c.MetricsAddr, err)
		}
	}
	return nil
}

// validateCluster checks the NATS settings.
func (c Config) validateCluster() error {
	if c.ClusterURLs != "" {
		if err := cluster.CheckURLs(c.ClusterURLs); err != nil {
			return bad(flagCluster, "%v", err)
		}
		if strings.ContainsAny(c.ClusterSubject, " *>") || c.ClusterSubject == "" {
			return bad(flagClusterSubject, "%q is not a plain NATS subject", c.ClusterSubject)
		}
		if (c.ClusterTLSCert == "") != (c.ClusterTLSKey == "") {
			return bad(flagClusterTLSCert, "needs --cluster-tls-key, and the other way round")
		}
	} else {
		// Settings of a NATS connection there is none of.
		for _, f := range []struct {
			flag flagName
			set  bool
			why  string
		}{
			{flag: flagClusterCreds, set: c.ClusterCreds != "", why: "the credentials log in to NATS"},
			{flag: flagClusterTLSCA, set: c.ClusterTLSCA != "", why: "it verifies the NATS server"},
			{flag: flagClusterTLSCert, set: c.ClusterTLSCert != "", why: "it identifies this node to NATS"},
			{flag: flagClusterTLSKey, set: c.ClusterTLSKey != "", why: "it identifies this node to NATS"},
			{flag: flagClusterKeyFile, set: c.ClusterKeyFile != "", why: "the key authenticates the nodes of a cluster"},
		} {
			if f.set {
				return bad(f.flag, "needs --cluster: %s", f.why)
			}
		}
	}
	if c.ClusterReconnectWait < 0 {
		return bad(flagClusterReconnectWait, "must not be negative, got %s", c.ClusterReconnectWait)
	}
	return nil
}

// burst is the effective token-bucket size: RateBurst, or the rate
// rounded up when RateBurst is 0.
func (c Config) burst() int {
	if c.RateBurst > 0 {
		return c.RateBurst
	}
	return max(int(math.Ceil(c.RateLimit)), 1)
}

// listenSpec is one listener, in gnet's terms.
type listenSpec struct {
	network string   // "tcp" or "unix"
	address string   // host:port, or a socket path
	proxy   bool     // connections begin with a PROXY header
	flag    flagName // the flag that named it: --addr, --direct-addr or --ws-addr
	ws      bool     // a WebSocket listener (--ws-addr): HTTP, then WebSocket frames
}

func (l listenSpec) protoAddr() string { return l.network + "://" + l.address }

// listenSpecs parses Addr (PROXY listeners with ProxyProtocol), then
// DirectAddr, then WSAddr (config_ws.go): comma-separated lists of
// host:port and unix:///path entries.
func (c Config) listenSpecs() ([]listenSpec, error) {
	specs, err := parseListenList(flagAddr, c.Addr, c.ProxyProtocol)
	if err != nil {
		return nil, err
	}
	if c.DirectAddr != "" {
		direct, err := parseListenList(flagDirectAddr, c.DirectAddr, false)
		if err != nil {
			return nil, err
		}
		for _, d := range direct {
			if slices.ContainsFunc(specs, func(l listenSpec) bool { return l.protoAddr() == d.protoAddr() }) {
				return nil, bad(flagDirectAddr, "%q is also in --addr: a listener either expects PROXY headers or does not", d.address)
			}
			specs = append(specs, d)
		}
	}
	return c.withWSSpecs(specs)
}

func parseListenList(flag flagName, list string, proxy bool) ([]listenSpec, error) {
	var specs []listenSpec
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if path, ok := strings.CutPrefix(a, "unix://"); ok {
			if path == "" || !strings.HasPrefix(path, "/") {
				return nil, bad(flag, "%q: a unix socket needs an absolute path, unix:///run/fanout.sock", a)
			}
			specs = append(specs, listenSpec{network: "unix", address: path, proxy: proxy, flag: flag})
			continue
		}
		if err := validateAddr(flag, a); err != nil {
			return nil, err
		}
		specs = append(specs, listenSpec{network: "tcp", address: a, proxy: proxy, flag: flag})
	}
	for i, l := range specs {
		// gnet finds a listener by its address as given, so two alike
		// (two 127.0.0.1:0) could not be told apart.
		if slices.ContainsFunc(specs[:i], func(o listenSpec) bool { return o.protoAddr() == l.protoAddr() }) {
			return nil, bad(flag, "%q is listed twice: give each listener an address of its own", l.address)
		}
	}
	return specs, nil
}

// proxySources parses ProxyFrom: CIDRs, or single IPs taken as one host.
func (c Config) proxySources() ([]netip.Prefix, error) {
	if c.ProxyFrom == "" {
		return nil, nil
	}
	var prefixes []netip.Prefix
	for _, v := range strings.Split(c.ProxyFrom, ",") {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, bad(flagProxyFrom, "%q is neither a CIDR like 10.0.0.0/8 nor an IP address", v)
		}
		ip = ip.Unmap()
		prefixes = append(prefixes, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return prefixes, nil
}

// frameOverhead is the most a frame adds to a line.
const frameOverhead = shard.MaxFrameOverhead

func validateAddr(flag flagName, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return bad(flag, "%q is not host:port: %v", addr, err)
	}
	if strings.Contains(host, "/") {
		return bad(flag, "%q: bad host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return bad(flag, "%q: port must be 0..65535", addr)
	}
	return nil
}
