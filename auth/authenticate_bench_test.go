package auth_test

import (
	"context"
	"testing"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/authtest"
)

// newTestService is an authtest Service with the user alice, hashing
// with hasher (nil: authtest's cheap argon2id) and a verified-token cache
// of cacheSize (0: the default).
func newTestService(tb testing.TB, hasher auth.PasswordHasher, cacheSize int) *auth.Service {
	tb.Helper()
	svc := authtest.New(tb, func(opts *auth.Options) {
		if hasher != nil {
			opts.Hasher = hasher
		}
		opts.VerifiedCacheSize = cacheSize
	}).Service
	if _, err := svc.CreateUser(context.Background(), auth.NewUser{Username: "alice", Password: "correct horse battery", Email: "alice@example.com"}); err != nil {
		tb.Fatal(err)
	}
	return svc
}

// newBenchService is newTestService with three access tokens of alice,
// each in its own session.
func newBenchService(b *testing.B, cacheSize int) (*auth.Service, [3]string) {
	b.Helper()
	svc := newTestService(b, nil, cacheSize)
	var toks [3]string
	for i := range toks {
		pair, err := svc.Login(context.Background(), "alice", "correct horse battery", auth.Client{UserAgent: "bench", IP: "127.0.0.1"})
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = pair.Access
	}
	return svc, toks
}

// BenchmarkAuthenticate measures the check every authenticated request
// goes through, with immediate revocation on:
//   - hit: the token was verified before (verified-token cache hit), so
//     only expiry, the revocation index and the cached user are consulted;
//   - miss: every call verifies the signature and decodes the claims (a
//     verified cache of one entry per generation, fed three tokens in turn);
//   - hit-parallel: hit from GOMAXPROCS goroutines (lock contention).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	b.Run("hit", func(b *testing.B) {
		svc, toks := newBenchService(b, 0)
		if _, err := svc.Authenticate(ctx, toks[0]); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := svc.Authenticate(ctx, toks[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		svc, toks := newBenchService(b, 1)
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			if _, err := svc.Authenticate(ctx, toks[i%3]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		svc, toks := newBenchService(b, 0)
		if _, err := svc.Authenticate(ctx, toks[0]); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.Authenticate(ctx, toks[0]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRefresh measures a refresh with rotation as a client makes it:
// each goroutine logs in once, then refreshes with the refresh token it
// was just handed, so every call rotates (SQLite's group-commit writer
// batches the goroutines' rotations).
func BenchmarkRefresh(b *testing.B) {
	ctx := context.Background()
	svc := newTestService(b, nil, 0)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		pair, err := svc.Login(ctx, "alice", "correct horse battery", auth.Client{UserAgent: "bench", IP: "127.0.0.1"})
		if err != nil {
			b.Error(err)
			return
		}
		refresh := pair.Refresh
		for pb.Next() {
			pair, err := svc.Refresh(ctx, refresh)
			if err != nil {
				b.Error(err)
				return
			}
			refresh = pair.Refresh
		}
	})
}
