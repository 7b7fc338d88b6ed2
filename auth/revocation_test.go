package auth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/authtest"
	"github.com/latch-auth/latch/internal/clocktest"
)

var client = auth.Client{UserAgent: "test", IP: "127.0.0.1"}

// newFlows returns a Service on SQLite with a settable clock and user
// alice, logged in once.
func newFlows(t *testing.T, configure func(*auth.Options)) (*auth.Service, *clocktest.Clock, authtest.Env, *auth.Pair) {
	t.Helper()
	clock := clocktest.New(time.Now().Truncate(time.Second))
	env := authtest.New(t, func(o *auth.Options) {
		o.Now = clock.Now
		if configure != nil {
			configure(o)
		}
	})
	ctx := context.Background()
	if _, err := env.Service.Signup(ctx, "alice", "correct horse battery", ""); err != nil {
		t.Fatal(err)
	}
	pair, err := env.Service.Login(ctx, "alice", "correct horse battery", client)
	if err != nil {
		t.Fatal(err)
	}
	return env.Service, clock, env, pair
}

// hangUpOnRotate is a session store whose Rotate sees the request's
// context end as it starts, as when the client hangs up at that moment.
type hangUpOnRotate struct {
	latch.SessionStore
	hangUp atomic.Pointer[context.CancelFunc]
}

func (h *hangUpOnRotate) Rotate(ctx context.Context, r latch.Rotation) (*latch.Session, *latch.User, error) {
	if cancel := h.hangUp.Load(); cancel != nil {
		(*cancel)()
	}
	return h.SessionStore.Rotate(ctx, r)
}

// Presenting a rotated-away refresh token revokes the family even when
// the client hangs up while latch handles it: the thief's branch dies.
func TestReuseRevokesWhenTheClientHangsUp(t *testing.T) {
	store := &hangUpOnRotate{}
	svc, clock, _, first := newFlows(t, func(o *auth.Options) {
		store.SessionStore = o.Sessions
		o.Sessions = store
	})
	ctx := context.Background()
	thief, err := svc.Refresh(ctx, first.Refresh) // the thief rotates first
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // past the grace interval

	reqCtx, cancel := context.WithCancel(ctx)
	store.hangUp.Store(&cancel)
	if _, err := svc.Refresh(reqCtx, first.Refresh); err == nil {
		t.Fatal("refresh of a spent token succeeded")
	}
	store.hangUp.Store(nil)

	if _, err := svc.Refresh(ctx, thief.Refresh); !errors.Is(err, latch.ErrSessionRevoked) {
		t.Fatalf("the thief's refresh token after reuse: %v, want ErrSessionRevoked", err)
	}
	if _, err := svc.Authenticate(ctx, thief.Access); !errors.Is(err, latch.ErrSessionRevoked) {
		t.Fatalf("the thief's access token after reuse: %v, want ErrSessionRevoked", err)
	}
}

// The session that changes the password stays logged in however many
// times it does so, with the access token it had all along; every other
// session is logged out.
func TestPasswordChangesKeepTheCallersSession(t *testing.T) {
	svc, _, _, own := newFlows(t, nil)
	ctx := context.Background()
	other, err := svc.Login(ctx, "alice", "correct horse battery", client)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, own.Access)
	if err != nil {
		t.Fatal(err)
	}
	passwords := []string{"correct horse battery", "second fine passphrase", "third fine passphrase", "fourth fine passphrase"}
	for i := 1; i < len(passwords); i++ {
		if err := svc.ChangePassword(ctx, p, passwords[i-1], passwords[i]); err != nil {
			t.Fatalf("password change %d: %v", i, err)
		}
		if _, err := svc.Authenticate(ctx, own.Access); err != nil {
			t.Fatalf("after password change %d the caller's access token: %v", i, err)
		}
		if _, err := svc.Authenticate(ctx, other.Access); !errors.Is(err, latch.ErrSessionRevoked) {
			t.Fatalf("after password change %d another session's access token: %v, want ErrSessionRevoked", i, err)
		}
	}
	next, err := svc.Refresh(ctx, own.Refresh)
	if err != nil {
		t.Fatalf("the caller's refresh after the changes: %v", err)
	}
	if _, err := svc.Authenticate(ctx, next.Access); err != nil {
		t.Fatalf("the refreshed access token: %v", err)
	}
	// Logging out everywhere ends the kept session too.
	if err := svc.LogoutAll(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{own.Access, next.Access} {
		if _, err := svc.Authenticate(ctx, tok); !errors.Is(err, latch.ErrSessionRevoked) {
			t.Fatalf("after logout-all: %v, want ErrSessionRevoked", err)
		}
	}
}

// Each caller gets a Principal of its own: what one request changes in
// it, or in its claims, no other request sees.
func TestPrincipalIsTheCallersOwn(t *testing.T) {
	svc, _, _, pair := newFlows(t, nil)
	ctx := context.Background()
	p1, err := svc.Authenticate(ctx, pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	want := *p1
	wantRole := p1.Claims().Extra["role"]
	p1.UserID, p1.SessionID = 999, "forged"
	p1.Claims().Extra["role"] = "admin"
	c := p1.Claims()
	c.Extra["role"] = "admin"
	p2, err := svc.Authenticate(ctx, pair.Access)
	if err != nil {
		t.Fatal(err)
	}
	if p2.UserID != want.UserID || p2.SessionID != want.SessionID {
		t.Errorf("second caller got user %d session %q, want %d %q", p2.UserID, p2.SessionID, want.UserID, want.SessionID)
	}
	if got := p2.Claims().Extra["role"]; got != wantRole {
		t.Errorf("second caller's role claim = %v, want %v", got, wantRole)
	}
}
