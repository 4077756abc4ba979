package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/internal/testutil"
)

// TestClusterKeyFile: the key file is read at New, its errors name the flag
// and never the key, a file others may read is warned about, and neither
// the key nor its path reaches the configuration /varz shows.
func TestClusterKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "s3cret-s3cret-s3cret-s3cret-s3cret-0123456789"
	short := write("short", "s3cret-but-short\n", 0o600)
	good := write("good", secret+"\n", 0o600)
	open := write("open", secret+"\n", 0o644)

	t.Run("needs a cluster", func(t *testing.T) {
		err := Config{ClusterKeyFile: good}.withDefaults().Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Flag != "--cluster-key-file" {
			t.Fatalf("Validate = %v, want an error naming --cluster-key-file", err)
		}
	})
	for _, tc := range []struct {
		name, path string
		wantErr    error // nil: keys loaded
		wantWarn   bool
	}{
		{name: "missing", path: filepath.Join(dir, "none"), wantErr: os.ErrNotExist},
		{name: "too short", path: short, wantErr: cluster.ErrBadKeyFile},
		{name: "good", path: good},
		{name: "readable by others", path: open, wantWarn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &testutil.Buffer{}
			keys, err := loadClusterKeys(tc.path, slog.New(slog.NewTextHandler(logs, nil)))
			if tc.wantErr != nil {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Flag != "--cluster-key-file" || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("err = %v, want one naming --cluster-key-file and the file", err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error shows the key: %v", err)
				}
				return
			}
			if err != nil || len(keys) != 1 || string(keys[0]) != secret {
				t.Fatalf("keys %d, err %v", len(keys), err)
			}
			if warned := strings.Contains(logs.String(), "can be read by other users"); warned != tc.wantWarn {
				t.Fatalf("warned %v, want %v: %s", warned, tc.wantWarn, logs.String())
			}
			if strings.Contains(logs.String(), "s3cret") {
				t.Fatalf("the log shows the key: %s", logs.String())
			}
		})
	}
	t.Run("not in the shown configuration", func(t *testing.T) {
		b, err := json.Marshal(Config{ClusterURLs: "nats://127.0.0.1:4222", ClusterKeyFile: good})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), good) || strings.Contains(string(b), "ClusterKeyFile") {
			t.Fatalf("the configuration as /varz shows it names the key file: %s", b)
		}
	})
}
