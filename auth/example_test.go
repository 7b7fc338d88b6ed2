package auth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// Example shows the flows without HTTP: a login opens a session, its
// access token authenticates, and a logout revokes it at once — the
// access token is refused although it has not expired.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "latch-auth-example-")
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "latch.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()

	key, _ := token.GenerateKey("HS256")
	engine, _ := token.New(token.Options{SigningKey: key})
	hasher, _ := password.NewHasher(password.Params{})
	opts := auth.DefaultOptions()
	revocations, _ := revocation.NewManager(revocation.Options{Source: db, Window: auth.RevocationWindow(opts)})
	revocations.Load(ctx)
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher, opts.Revocations = db, db, engine, hasher, revocations
	svc, err := auth.New(opts)
	if err != nil {
		panic(err)
	}

	svc.Signup(ctx, "alice", "correct horse battery", "alice@example.com")
	_, err = svc.Login(ctx, "alice", "wrong password", auth.Client{})
	fmt.Println(errors.Is(err, latch.ErrInvalidCredentials))

	pair, _ := svc.Login(ctx, "alice", "correct horse battery", auth.Client{UserAgent: "example"})
	p, err := svc.Authenticate(ctx, pair.Access)
	fmt.Println(p.UserID, err)

	fmt.Println(svc.Logout(ctx, p, pair.Refresh))
	_, err = svc.Authenticate(ctx, pair.Access)
	fmt.Println(errors.Is(err, latch.ErrSessionRevoked))
	// Output:
	// true
	// 1 <nil>
	// <nil>
	// true
}
