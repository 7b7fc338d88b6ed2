package sqlite_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// BenchmarkRotate measures chained rotations as refreshes make them
// (checked, spending), from 4 and 16 goroutines per GOMAXPROCS, each with
// its own session, next to BenchmarkInsert, the floor: single-row
// autocommit INSERTs on the same writer. cpu-µs/op is the process's CPU
// time per operation, steadier than ns/op on a shared machine.
func BenchmarkRotate(b *testing.B) {
	for _, p := range []int{4, 16} {
		b.Run(fmt.Sprintf("parallelism=%d", p), func(b *testing.B) { benchmarkRotate(b, p) })
	}
}

func benchmarkRotate(b *testing.B, parallelism int) {
	ctx := context.Background()
	db := MustOpen(b)
	u := &latch.User{Username: "alice", PasswordHash: "x", Role: "user", IsActive: true, CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	var sessions atomic.Int64
	b.SetParallelism(parallelism)
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		now := time.Now()
		sid := fmt.Sprintf("session-%d", sessions.Add(1))
		hash := randomHash()
		err := db.CreateSession(ctx, &latch.Session{ID: sid, UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)},
			&latch.RefreshToken{Hash: hash, SessionID: sid, IssuedAt: now, ExpiresAt: now.Add(14 * 24 * time.Hour)})
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			now := time.Now()
			next := randomHash()
			_, _, err := db.Rotate(ctx, latch.Rotation{
				OldHash: hash, NextJTI: next[:32], Spend: true, ReuseInterval: 10 * time.Second, Now: now,
				Next:  latch.RefreshToken{Hash: next, SessionID: sid, IssuedAt: now, ExpiresAt: now.Add(14 * 24 * time.Hour)},
				Check: &latch.RotationCheck{UserID: u.ID, Version: u.TokenVersion},
			})
			if err != nil {
				b.Error(err)
				return
			}
			hash = next
		}
	})
}

func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	db := MustOpen(b)
	w := db.SQL()
	if _, err := w.ExecContext(ctx, `CREATE TABLE bench_insert (hash TEXT PRIMARY KEY, session_id TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	stmt, err := w.PrepareContext(ctx, `INSERT INTO bench_insert (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	b.SetParallelism(4)
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := time.Now().UnixMicro()
			if _, err := stmt.ExecContext(ctx, randomHash(), "session", now, now+3600e6); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func randomHash() string {
	var b [32]byte
	rand.Read(b[:])
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// reportCPU resets b's timer and returns a function that reports the
// process's CPU time per operation since.
func reportCPU(b *testing.B) func() {
	b.ReportAllocs()
	start := cpuTime()
	b.ResetTimer()
	return func() { b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
