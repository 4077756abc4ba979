package metrics

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// Bounds of the HTTP listener. Every connection costs a descriptor, and
// the descriptors are shared with the broadcast's clients: the listener
// accepts at most MaxConns at once (more wait in the kernel's backlog and
// take none), and each must keep to the timeouts.
const (
	// MaxConns caps the listener's open connections.
	MaxConns = 64
	// ReadHeaderTimeout bounds how long a request's headers may take.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds how long a whole request may take to arrive.
	ReadTimeout = 10 * time.Second
	// WriteTimeout bounds a whole answer (pprof's CPU profile and trace
	// take seconds=N to run: up to 60s is allowed).
	WriteTimeout = 75 * time.Second
	// IdleTimeout closes a keep-alive connection that sends no new request.
	IdleTimeout = 30 * time.Second
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 16 << 10
)

// Options say what the listener serves beside /metrics, /healthz and
// /readyz.
type Options struct {
	// Ready reports whether the daemon takes traffic (/readyz).
	Ready func() bool
	// Pprof adds /debug/pprof/.
	Pprof bool
	// Routes, if not nil, adds the daemon's own endpoints to the mux.
	Routes func(*http.ServeMux)
	// Admin, if not nil, wraps the pprof handlers (the daemon puts them
	// behind its admin token).
	Admin func(http.Handler) http.Handler
	// Cmdline, if not nil, is what /debug/pprof/cmdline shows instead of
	// the process's arguments (which may hold a secret).
	Cmdline func() []string
	// ErrorLog receives net/http's own complaints (a handler's panic, a
	// query with a semicolon, accept errors), which a peer can cause at
	// will: the daemon passes a rate-limited one. nil: the standard logger.
	ErrorLog *log.Logger
}

// HTTP serves /metrics, /healthz, /readyz and, when enabled, /debug/pprof/;
// the daemon adds its control plane (/varz, /connz) through Options.Routes.
type HTTP struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Serve listens on addr and serves until Close.
func Serve(addr string, m *Metrics, o Options) (*HTTP, error) {
	mux := http.NewServeMux()
	if o.Routes != nil {
		o.Routes(mux)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready == nil || !o.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if o.Pprof {
		guard := o.Admin
		if guard == nil {
			guard = func(h http.Handler) http.Handler { return h }
		}
		cmdline := http.HandlerFunc(pprof.Cmdline)
		if o.Cmdline != nil {
			cmdline = func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				fmt.Fprint(w, strings.Join(o.Cmdline(), "\x00"))
			}
		}
		mux.Handle("/debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", guard(cmdline))
		mux.Handle("/debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          o.ErrorLog,
	}
	h := &HTTP{srv: srv, ln: netutil.LimitListener(ln, MaxConns), done: make(chan error, 1)}
	go func() { h.done <- h.srv.Serve(h.ln) }()
	return h, nil
}

// Addr is the bound address.
func (h *HTTP) Addr() net.Addr { return h.ln.Addr() }

// Close shuts the listener down, letting requests in flight finish until
// ctx ends.
func (h *HTTP) Close(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if serveErr := <-h.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
