package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/sqlite"
)

// TestPurgeLetsWritersIn: purging many expired sessions must not hold
// SQLite's only writer for the whole purge, or every login and refresh
// waits for it: a write made meanwhile waits for one batch at most.
func TestPurgeLetsWritersIn(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u := &latch.User{Username: "alice", PasswordHash: "!", IsActive: true}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Expired rows in bulk, straight into the file.
	const rows = 40000
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoke_reason)
		 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		 SELECT 'old' || i, ?, 0, 0, 1, '', '', '' FROM n`,
		`INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
		 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		 SELECT 'h' || i, 'old' || i, 0, 1 FROM n`,
	} {
		if _, err := raw.ExecContext(ctx, q, rows, u.ID); err != nil {
			raw.Close()
			t.Fatal(err)
		}
	}
	raw.Close()

	now := time.Now()
	type result struct {
		n    int64
		err  error
		took time.Duration
	}
	done := make(chan result)
	start := time.Now()
	go func() {
		n, err := db.PurgeExpired(ctx, now)
		done <- result{n, err, time.Since(start)}
	}()
	var slowest time.Duration
	var writes int
	for i := 0; ; i++ {
		select {
		case r := <-done:
			if r.err != nil || r.n < 2*rows {
				t.Fatalf("PurgeExpired = %d, %v; want %d", r.n, r.err, 2*rows)
			}
			t.Logf("purged %d rows in %v; %d writes meanwhile, the slowest %v", r.n, r.took, writes, slowest)
			if writes == 0 {
				t.Fatal("no write finished during the purge")
			}
			if slowest > r.took/3 {
				t.Fatalf("a write waited %v during a purge of %v: the purge holds the writer", slowest, r.took)
			}
			return
		default:
		}
		id := fmt.Sprintf("new%d", i)
		s := &latch.Session{ID: id, UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		w := time.Now()
		if err := db.CreateSession(ctx, s, &latch.RefreshToken{Hash: id, SessionID: id, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(w))
		writes++
	}
}
