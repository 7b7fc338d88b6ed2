// Package authtest assembles an auth.Service over a temporary SQLite
// database, for the tests of the packages built on it.
package authtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// Env is an assembled Service and the parts tests reach past it for.
type Env struct {
	Service *auth.Service
	DB      *sqlite.DB
	Tokens  *token.Engine
}

// New assembles a Service from auth.DefaultOptions with a fresh SQLite
// database, an HS256 key, cheap argon2id (what is tested is not the
// hash's cost) and immediate revocation loaded from the database;
// configure, if not nil, adjusts the options before the Service is made
// (a Revocations it sets is kept).
// Everything is closed when tb ends.
func New(tb testing.TB, configure func(*auth.Options)) Env {
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
	// The engine reads the Service's clock, which configure may replace.
	var opts auth.Options
	engine, err := token.New(token.Options{SigningKey: key, Now: func() time.Time { return opts.Now() }})
	if err != nil {
		tb.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1})
	if err != nil {
		tb.Fatal(err)
	}
	opts = auth.DefaultOptions()
	opts.Now = time.Now
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher = db, db, engine, hasher
	if configure != nil {
		configure(&opts)
	}
	if opts.Revocations == nil { // configure may bring its own
		revs, err := revocation.NewManager(revocation.Options{Source: db, Window: auth.RevocationWindow(opts)})
		if err != nil {
			tb.Fatal(err)
		}
		if err := revs.Load(ctx); err != nil {
			tb.Fatal(err)
		}
		opts.Revocations = revs
	}
	svc, err := auth.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return Env{Service: svc, DB: db, Tokens: engine}
}
