package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/latch-auth/latch/server"
)

// TestNewFailsCleanly: a configuration that cannot start is an error
// naming its cause, with what was opened before it closed, not a panic.
func TestNewFailsCleanly(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(dir string) server.Config
		wantErr string
	}{
		{"unreachable database", func(dir string) server.Config {
			return server.Config{DataDir: dir, DatabaseURL: "postgres://nobody@127.0.0.1:1/x?connect_timeout=1"}
		}, "127.0.0.1"},
		{"unreachable Redis, after the database opened", func(dir string) server.Config {
			return server.Config{DataDir: dir, RedisURL: "redis://127.0.0.1:1/0"}
		}, "redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := server.New(context.Background(), tt.cfg(t.TempDir()))
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if s != nil || !strings.Contains(strings.ToLower(err.Error()), tt.wantErr) {
				t.Fatalf("got %v, %v; want nil and an error naming %q", s, err, tt.wantErr)
			}
		})
	}
}
