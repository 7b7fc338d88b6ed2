package auth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/authtest"
	"github.com/latch-auth/latch/internal/clocktest"
)

// countingUsers counts UserByID calls of the real store and can make them
// fail as a database outage would, or wait until released.
type countingUsers struct {
	latch.UserStore
	calls   atomic.Int64
	fail    atomic.Bool
	release chan struct{} // when set, fetches wait for it to close
}

func (c *countingUsers) UserByID(ctx context.Context, id int64) (*latch.User, error) {
	c.calls.Add(1)
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
			return nil, &latch.UnavailableError{Store: "sqlite", Err: ctx.Err()}
		}
	}
	if c.fail.Load() {
		return nil, &latch.UnavailableError{Store: "sqlite", Err: errors.New("connection refused")}
	}
	return c.UserStore.UserByID(ctx, id)
}

// newCountingFlows is newFlows with the user store counted.
func newCountingFlows(t *testing.T, configure func(*auth.Options)) (*auth.Service, *clocktest.Clock, *countingUsers, *auth.Pair) {
	users := &countingUsers{}
	svc, clock, _, pair := newFlows(t, func(o *auth.Options) {
		users.UserStore = o.Users
		o.Users = users
		if configure != nil {
			configure(o)
		}
	})
	return svc, clock, users, pair
}

func TestAuthenticateFetchesNoUser(t *testing.T) {
	svc, clock, users, pair := newCountingFlows(t, nil)
	ctx := context.Background()
	before := users.calls.Load()
	for range 3 {
		if _, err := svc.Authenticate(ctx, pair.Access); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute) // past the user cache's TTL each time
	}
	if n := users.calls.Load() - before; n != 0 {
		t.Errorf("Authenticate with immediate revocation fetched the user %d times, want 0", n)
	}

	// Deactivation still refuses at once: it bumps the token version. The
	// refusal alone reads the user, to name the reason as SimpleJWT does.
	p, err := svc.Authenticate(ctx, pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Deactivate(ctx, p.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, pair.Access); !errors.Is(err, latch.ErrUserInactive) {
		t.Fatalf("after deactivation: %v, want ErrUserInactive", err)
	}
	// With the database away the last record read still names it.
	users.fail.Store(true)
	clock.Advance(time.Minute)
	if _, err := svc.Authenticate(ctx, pair.Access); !errors.Is(err, latch.ErrUserInactive) {
		t.Fatalf("after deactivation, database down: %v, want ErrUserInactive", err)
	}
}

func TestAuthenticateFetchesUserInRefreshOnlyMode(t *testing.T) {
	svc, _, users, pair := newCountingFlows(t, func(o *auth.Options) { o.RefreshOnly = true })
	before := users.calls.Load()
	if _, err := svc.Authenticate(context.Background(), pair.Access); err != nil {
		t.Fatal(err)
	}
	if users.calls.Load() == before {
		t.Error("refresh-only mode (SimpleJWT's semantics) did not look the user up")
	}
}

func TestUserCoalescesAndServesStale(t *testing.T) {
	svc, clock, users, pair := newCountingFlows(t, nil)
	ctx := context.Background()
	p, err := svc.Authenticate(ctx, pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // whatever is cached has expired

	users.release = make(chan struct{})
	before := users.calls.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := svc.User(ctx, p)
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all reach the fetch
	close(users.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := users.calls.Load() - before; n != 1 {
		t.Errorf("20 concurrent misses made %d fetches, want 1", n)
	}
	users.release = nil

	clock.Advance(time.Hour)
	users.fail.Store(true)
	u, err := svc.User(ctx, p)
	if err != nil || u.Username != "alice" {
		t.Fatalf("with the database down: %v, %v; want the last known record", u, err)
	}
}

func TestUserUnavailableWithoutARecord(t *testing.T) {
	svc, _, users, pair := newCountingFlows(t, nil)
	p, err := svc.Authenticate(context.Background(), pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	users.fail.Store(true)
	if _, err := svc.User(context.Background(), p); !errors.Is(err, latch.ErrUnavailable) {
		t.Fatalf("no record and the database down: %v, want ErrUnavailable", err)
	}
}

// Under mandatory verification a user whose creator vouched for the
// address (latch createuser, the admin API's email_verified) logs in at
// once; one whose creator did not waits for the mail's link.
func TestCreateUserEmailVerified(t *testing.T) {
	svc := authtest.New(t, func(o *auth.Options) { o.Accounts.Verification = auth.VerifyMandatory }).Service
	ctx := context.Background()
	for _, c := range []struct {
		name     string // also the username
		verified bool
		email    string
		wantErr  error
	}{
		{"vouched", true, "vouched@example.com", nil},
		{"unvouched", false, "unvouched@example.com", latch.ErrEmailNotVerified},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := svc.CreateUser(ctx, auth.NewUser{Username: c.name, Password: "correct horse battery", Email: c.email, EmailVerified: c.verified})
			if err != nil {
				t.Fatal(err)
			}
			if u.EmailVerified != c.verified {
				t.Errorf("EmailVerified = %v, want %v", u.EmailVerified, c.verified)
			}
			_, err = svc.Login(ctx, c.name, "correct horse battery", auth.Client{UserAgent: "test", IP: "127.0.0.1"})
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("login: %v, want %v", err, c.wantErr)
			}
		})
	}
}
