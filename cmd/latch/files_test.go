package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// SPEC §11: SQLite files are created 0600, also in a data directory that
// latch did not create (and so did not make 0700).
func TestSQLiteFilesArePrivate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"data dir made by the operator", func(t *testing.T, dir string) {}},
		{"existing readable database", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "latch.db"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.prepare(t, dir)
			ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dir})
			ts.mustUser("alice")
			ts.mustLogin("alice") // a write: the -wal and -shm files exist
			for _, name := range []string{"latch.db", "latch.db-wal", "latch.db-shm"} {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("%s has mode %v, want %v", name, got, fs.FileMode(0o600))
				}
			}
		})
	}
}
