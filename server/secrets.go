package server

import (
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

// Secrets never leave the process: no token, password or key (nor the
// path of a file holding one) appears in an HTTP answer, a log line or a
// metric. /varz shows the configuration through varzConfig, pprof's
// cmdline through redactedArgs, and the NATS URLs only without their user
// information (which holds a password or a token).

const redacted = "[redacted]"

// secretField reports whether a Config field, by name, holds a secret or
// says where one is kept. By name, so that a field added later (a key
// file, say) is hidden without anyone remembering to.
func secretField(name string) bool {
	for _, w := range []string{"Token", "Key", "Creds", "Password", "Secret"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// varzConfig is cfg as /varz shows it, keyed by flag, snake_case
// (--max-conns-per-ip: "max_conns_per_ip"), as NATS's /varz does: every
// registered flag with its effective value, so a flag added to
// RegisterFlags shows up by itself. Durations are strings in the flags'
// own syntax ("10s"), permission bits octal ("0660"). Every secret setting
// that is set is "[redacted]" (the admin token is left out altogether),
// the cluster URLs are shown without user information.
func varzConfig(cfg Config) map[string]any {
	fs := flag.NewFlagSet("varz", flag.ContinueOnError)
	RegisterFlags(fs, &cfg)
	m := map[string]any{}
	fs.VisitAll(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok || flagName(f.Name) == flagAdminToken {
			return // a removed flag holds nothing; the token is never named
		}
		v := g.Get()
		switch {
		case flagName(f.Name) == flagCluster:
			v = redactURLs(cfg.ClusterURLs)
		case secretField(flagFieldName(f.Name)) && f.Value.String() != "":
			v = redacted
		}
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		m[strings.ReplaceAll(f.Name, "-", "_")] = v
	})
	return m
}

// redactURLs removes the user information (user:password@ or token@)
// from each of a comma-separated list of URLs.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		scheme := strings.Index(u, "://")
		rest := u
		if scheme >= 0 {
			rest = u[scheme+3:]
		}
		host := rest
		if slash := strings.IndexAny(rest, "/?#"); slash >= 0 {
			host = rest[:slash]
		}
		if at := strings.LastIndex(host, "@"); at >= 0 {
			parts[i] = u[:len(u)-len(rest)] + redacted + rest[at:]
		}
	}
	return strings.Join(parts, ",")
}

// redactedArgs is the process's command line with the value of every flag
// that may carry a secret replaced (--admin-token) or cleaned (--cluster:
// its URLs' user information). pprof's /debug/pprof/cmdline shows this.
func (s *Server) redactedArgs() []string {
	return redactArgs(os.Args)
}

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 1; i < len(out); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(out[i], "-"), "=")
		if !strings.HasPrefix(out[i], "-") {
			continue
		}
		var clean func(string) string
		switch {
		case name == "cluster":
			clean = redactURLs
		case secretField(flagFieldName(name)):
			clean = func(string) string { return redacted }
		default:
			continue
		}
		if hasValue {
			out[i] = out[i][:len(out[i])-len(value)] + clean(value)
		} else if i+1 < len(out) {
			i++
			out[i] = clean(out[i])
		}
	}
	return out
}

// flagFieldName turns a flag name into the words of a Config field name
// ("admin-token-file" → "AdminTokenFile") for secretField.
func flagFieldName(flag string) string {
	var b strings.Builder
	for _, w := range strings.Split(flag, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// guardDebug puts h (pprof) behind the admin token when --admin-reads is
// set.
func (s *Server) guardDebug(h http.Handler) http.Handler {
	if !s.cfg.AdminReads {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(w, r) {
			h.ServeHTTP(w, r)
		}
	})
}

// httpErrorLog is where net/http's own complaints go: the server's log,
// rate-limited, since a peer can cause them at will.
func (s *Server) httpErrorLog() *log.Logger {
	return log.New(httpLogWriter{s}, "", 0)
}

type httpLogWriter struct{ s *Server }

func (w httpLogWriter) Write(p []byte) (int, error) {
	w.s.limitedLog(logAuth, slog.LevelWarn, "control plane", "component", "net/http",
		"err", sanitize(strings.TrimSpace(string(p))))
	return len(p), nil
}
