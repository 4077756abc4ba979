package sysutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// A ready file tells a supervisor or the benchmark harness that a server
// listens, and where: one "key=value" line per address, "addr=" for each
// listener (in --addr order) and "metrics_addr=" for the metrics listener.
// It is written whole (a temporary file renamed into place), so a reader
// never sees half of it.

// WriteReadyFile writes lines to path atomically.
func WriteReadyFile(path string, lines []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	_, werr := tmp.WriteString(strings.Join(lines, "\n") + "\n")
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("ready file %s: %w", path, errors.Join(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}

// ReadReadyFile returns the values of key in the ready file at path, in
// order; os.ErrNotExist while the server is not ready yet.
func ReadReadyFile(path, key string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var vals []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			vals = append(vals, v)
		}
	}
	return vals, nil
}

// NotifySystemd tells systemd (Type=notify units: NOTIFY_SOCKET is set)
// the service's state, e.g. daemon.SdNotifyReady. It reports whether a
// notification was sent; without NOTIFY_SOCKET it does nothing.
func NotifySystemd(state string) (bool, error) {
	return daemon.SdNotify(false, state)
}

// Systemd states for NotifySystemd.
const (
	SystemdReady    = daemon.SdNotifyReady
	SystemdStopping = daemon.SdNotifyStopping
)
