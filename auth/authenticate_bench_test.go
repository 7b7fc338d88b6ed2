package auth_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// newTestService is a Service over a temporary SQLite store with
// immediate revocation on (the default), hashing with hasher (nil: cheap
// in-process argon2id) and a verified-token cache of cacheSize (0: the
// default), and with the user alice.
func newTestService(tb testing.TB, hasher auth.PasswordHasher, cacheSize int) *auth.Service {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "latch.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	key, err := token.GenerateKey("HS256")
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := token.New(token.Options{SigningKey: key})
	if err != nil {
		tb.Fatal(err)
	}
	if hasher == nil {
		// Cheap hashing: what is tested is not the hash's cost.
		if hasher, err = password.NewHasher(password.Params{Memory: 64, Iterations: 1}); err != nil {
			tb.Fatal(err)
		}
	}
	revs, err := revocation.NewManager(revocation.Options{Source: db, Window: 1 << 40})
	if err != nil {
		tb.Fatal(err)
	}
	if err := revs.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	opts := auth.DefaultOptions()
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher, opts.Revocations = db, db, engine, hasher, revs
	opts.VerifiedCacheSize = cacheSize
	svc, err := auth.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "alice", "correct horse battery", "alice@example.com", "user"); err != nil {
		tb.Fatal(err)
	}
	return svc
}

// newBenchService is newTestService with two access tokens of alice, each
// in its own session.
func newBenchService(b *testing.B, cacheSize int) (*auth.Service, [2]string) {
	b.Helper()
	svc := newTestService(b, nil, cacheSize)
	var toks [2]string
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
//     verified cache of one entry, fed two alternating tokens);
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
			if _, err := svc.Authenticate(ctx, toks[i&1]); err != nil {
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
