package server

import (
	"log/slog"
	"os"

	"github.com/fanout/fanout/cluster"
)

// loadClusterKeys reads --cluster-key-file (nothing when path is empty).
// Errors name the file, never its contents. A file others may read is
// accepted with a warning: the key is only as secret as the file.
func loadClusterKeys(path string, log *slog.Logger) ([][]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, bad(flagClusterKeyFile, "%v", err)
	}
	keys, err := cluster.ParseKeys(b)
	clear(b)
	if err != nil {
		return nil, bad(flagClusterKeyFile, "%s: %v", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the cluster key file can be read by other users than its owner: chmod 600 it (or load it as a systemd credential)",
			"file", path, "mode", fi.Mode().Perm().String())
	}
	return keys, nil
}
