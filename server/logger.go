package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// gnetLogger routes gnet's own log lines into slog. gnet logs rarely
// (start-up, errors), so formatting here is off the hot path. gnet has no
// other way to say that an event loop died: when it logs that one is
// exiting, or that the engine is shutting down, with an error, fail is
// called (the server cannot serve that loop's connections any more).
type gnetLogger struct {
	l    *slog.Logger
	fail func(error)
}

// gnetFatal are the beginnings of the messages gnet v2.9.7 logs (Errorf)
// when an event loop or the engine stops because of an error; at a
// requested stop it logs at debug level instead.
var gnetFatal = []string{"event-loop(%d) is exiting due to error", "main reactor is exiting due to error",
	"engine is being shutdown with error"}

func (g gnetLogger) logf(level slog.Level, format string, args []any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "gnet")
	}
	if level >= slog.LevelError && g.fail != nil && slices.ContainsFunc(gnetFatal, func(p string) bool { return strings.HasPrefix(format, p) }) {
		g.fail(fmt.Errorf("gnet: %s", fmt.Sprintf(format, args...)))
	}
}

func (g gnetLogger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args) }
func (g gnetLogger) Infof(format string, args ...any)  { g.logf(slog.LevelDebug, format, args) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.logf(slog.LevelWarn, format, args) }
func (g gnetLogger) Errorf(format string, args ...any) { g.logf(slog.LevelError, format, args) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.logf(slog.LevelError, format, args) }
