package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnixPathIsNeverRemoved: --addr unix://PATH where PATH is a
// directory (with files in it), a regular file or a symbolic link (even to
// a socket) is refused before anything is bound, naming the flag, and the
// path is left exactly as it was. gnet removed all of these (os.RemoveAll).
func TestUnixPathIsNeverRemoved(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{name: "directory", want: "a directory", make: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(path, "precious"), []byte("data"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "regular file", want: "a regular file", make: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "symlink to a socket", want: "a symbolic link", make: func(t *testing.T, path string) {
			target := filepath.Join(filepath.Dir(path), "target.sock")
			l, err := net.Listen("unix", target)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close() })
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "dangling symlink", want: "a symbolic link", make: func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "nowhere"), path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fanout.sock")
			tc.make(t, path)
			before := snapshotPath(t, path)
			_, err := New(Config{Addr: "127.0.0.1:0,unix://" + path}, slog.New(slog.DiscardHandler))
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Flag != "--addr" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want a --addr error saying %q", err, tc.want)
			}
			if after := snapshotPath(t, path); after != before {
				t.Fatalf("the path changed: %s → %s", before, after)
			}
			// Start checks again (the path could have appeared since New).
			s, err := New(Config{Addr: "unix://" + filepath.Join(filepath.Dir(path), "other.sock")}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			s.specs[0].address = path
			if err := s.Start(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start on %s: %v", tc.name, err)
			}
			if after := snapshotPath(t, path); after != before {
				t.Fatalf("Start changed the path: %s → %s", before, after)
			}
		})
	}
}

// snapshotPath describes what is at path: its type, and for a directory
// its entries, for a file its contents, for a link its target.
func snapshotPath(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		return "missing: " + err.Error()
	}
	out := fi.Mode().Type().String()
	switch {
	case fi.IsDir():
		entries, _ := os.ReadDir(path)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(path, e.Name()))
			out += " " + e.Name() + "=" + string(b)
		}
	case fi.Mode().IsRegular():
		b, _ := os.ReadFile(path)
		out += " " + string(b)
	case fi.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		out += " -> " + target
	}
	return out
}

// TestUnixSocketReplacedWhileRunning: when someone replaces the server's
// socket with a directory (or another server's socket) while it runs,
// shutdown leaves it in place and says so; its own socket it removes.
func TestUnixSocketReplacedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own.sock")
	replaced := filepath.Join(dir, "replaced.sock")
	other := filepath.Join(dir, "other.sock")
	s, logs := startServer(t, Config{Addr: "unix://" + own + ",unix://" + replaced + ",unix://" + other})
	if err := os.Remove(replaced); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(replaced, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(replaced, "precious"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", other) // another server took the path
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, path := range []string{replaced, other} {
		if !strings.Contains(logs.String(), "unix://"+path+" is no longer the socket this server bound") {
			t.Errorf("no warning that %s was left in place:\n%s", path, logs.String())
		}
	}
	if _, err := os.Stat(filepath.Join(replaced, "precious")); err != nil {
		t.Fatalf("the directory put at the socket's path was removed: %v", err)
	}
	if c, err := net.Dial("unix", other); err != nil {
		t.Fatalf("the other server's socket was removed: %v", err)
	} else {
		_ = c.Close()
	}
	if _, err := os.Lstat(own); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the server's own socket outlived it: %v", err)
	}
}
