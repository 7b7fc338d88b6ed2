package auth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/clocktest"
	"github.com/latch-auth/latch/memory"
	"github.com/latch-auth/latch/token"
)

const alicePassword = "correct horse battery"

// flow is one state of a test: the service, its clock and test env, and
// alice's first login.
type flow struct {
	t      *testing.T
	svc    *auth.Service
	clock  *clocktest.Clock
	tokens *token.Engine
	first  *auth.Pair
	ctx    context.Context
}

func newFlow(t *testing.T, configure func(*auth.Options)) *flow {
	t.Helper()
	svc, clock, env, first := newFlows(t, configure)
	return &flow{t: t, svc: svc, clock: clock, tokens: env.Tokens, first: first, ctx: context.Background()}
}

func (f *flow) login() *auth.Pair {
	f.t.Helper()
	p, err := f.svc.Login(f.ctx, "alice", alicePassword, client)
	if err != nil {
		f.t.Fatalf("login: %v", err)
	}
	return p
}

func (f *flow) principal(access string) *auth.Principal {
	f.t.Helper()
	p, err := f.svc.Authenticate(f.ctx, access)
	if err != nil {
		f.t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// wantErr fails unless err is want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v, want no error", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

// wantAccess checks what Authenticate answers for an access token.
func (f *flow) wantAccess(what string, access string, want error) {
	f.t.Helper()
	_, err := f.svc.Authenticate(f.ctx, access)
	wantErr(f.t, what, err, want)
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name, username, password string
		setup                    func(f *flow)
		want                     error
	}{
		{"right password", "alice", alicePassword, nil, nil},
		{"username in another case", "ALICE", alicePassword, nil, nil},
		{"wrong password", "alice", "wrong horse battery", nil, latch.ErrInvalidCredentials},
		{"unknown user", "mallory", alicePassword, nil, latch.ErrInvalidCredentials},
		{"inactive user", "alice", alicePassword, func(f *flow) {
			if err := f.svc.Deactivate(f.ctx, f.principal(f.first.Access).UserID); err != nil {
				t.Fatal(err)
			}
		}, latch.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlow(t, nil)
			if tt.setup != nil {
				tt.setup(f)
			}
			pair, err := f.svc.Login(f.ctx, tt.username, tt.password, client)
			wantErr(t, "Login", err, tt.want)
			if err != nil {
				return
			}
			p := f.principal(pair.Access)
			if p.SessionID == "" || p.SessionID == f.principal(f.first.Access).SessionID {
				t.Errorf("login opened session %q, want a new one", p.SessionID)
			}
			if _, err := f.svc.Refresh(f.ctx, pair.Refresh); err != nil {
				t.Errorf("the new refresh token: %v", err)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	type step struct {
		name    string
		advance time.Duration
		use     func(f *flow, s *state) error // the call under test
		want    error
	}
	tests := []struct {
		name      string
		configure func(*auth.Options)
		steps     []step
	}{
		{"rotation spends the old token", nil, []step{
			{"refresh", 0, refresh(0), nil},
			{"the successor refreshes", time.Minute, refresh(1), nil},
			{"the new access token works", 0, access(2), nil},
		}},
		{"duplicate within the grace interval gets the same successor", nil, []step{
			{"refresh", 0, refresh(0), nil},
			{"same token again, 5 s later", 5 * time.Second, sameSuccessor(0, 1), nil},
			{"the successor still refreshes", 0, refresh(1), nil},
		}},
		{"reuse after the grace interval revokes the family", nil, []step{
			{"refresh", 0, refresh(0), nil},
			{"same token again, 11 s later", 11 * time.Second, refresh(0), latch.ErrTokenReused},
			{"the successor is refused", 0, refresh(1), latch.ErrSessionRevoked},
			{"the successor's access token is refused", 0, access(1), latch.ErrSessionRevoked},
		}},
		{"no grace interval", func(o *auth.Options) { o.ReuseInterval = 0 }, []step{
			{"refresh", 0, refresh(0), nil},
			{"same token again at once", 0, refresh(0), latch.ErrTokenReused},
			{"the successor is refused", 0, refresh(1), latch.ErrSessionRevoked},
		}},
		{"rotation off", func(o *auth.Options) { o.RotateRefreshTokens = false }, []step{
			{"refresh", 0, refreshNoRotation(0), nil},
			{"the same token again", time.Minute, refreshNoRotation(0), nil},
		}},
		{"rotation without blacklisting", func(o *auth.Options) { o.BlacklistAfterRotation = false }, []step{
			{"refresh", 0, refresh(0), nil},
			{"the old token again, long after", time.Hour, refresh(0), nil},
			{"the first token, replaced twice, verifies", 0, func(f *flow, s *state) error {
				return f.svc.Verify(f.ctx, s.pairs[0].Refresh)
			}, nil},
			{"and logs out", 0, func(f *flow, s *state) error {
				return f.svc.Logout(f.ctx, f.principal(s.pairs[2].Access), s.pairs[0].Refresh)
			}, nil},
			{"which ended the session", 0, refresh(1), latch.ErrSessionRevoked},
		}},
		{"idle timeout", func(o *auth.Options) { o.IdleTimeout, o.AccessLifetime = time.Hour, 2*time.Hour }, []step{
			{"refresh within it", 30 * time.Minute, refresh(0), nil},
			{"refresh after it", 61 * time.Minute, refresh(1), latch.ErrSessionRevoked},
			{"the access token of the idle session", 0, access(1), latch.ErrSessionRevoked},
		}},
		{"session lifetime caps rotation", func(o *auth.Options) { o.SessionLifetime = 2 * time.Hour }, []step{
			{"refresh", time.Hour, refresh(0), nil},
			{"refresh past the session's end", 61 * time.Minute, refresh(1), token.ErrInvalid},
		}},
		{"an access token is not a refresh token", nil, []step{
			{"refresh with the access token", 0, func(f *flow, s *state) error {
				_, err := f.svc.Refresh(f.ctx, s.pairs[0].Access)
				return err
			}, token.ErrWrongType},
		}},
		{"garbage", nil, []step{
			{"refresh with garbage", 0, func(f *flow, s *state) error {
				_, err := f.svc.Refresh(f.ctx, "not.a.token")
				return err
			}, token.ErrInvalid},
		}},
		{"deactivated user", nil, []step{
			{"deactivate", 0, func(f *flow, s *state) error {
				return f.svc.Deactivate(f.ctx, f.principal(s.pairs[0].Access).UserID)
			}, nil},
			{"refresh", 0, refresh(0), latch.ErrUserInactive},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlow(t, tt.configure)
			s := &state{pairs: []*auth.Pair{f.first}}
			for _, st := range tt.steps {
				f.clock.Advance(st.advance)
				wantErr(t, st.name, st.use(f, s), st.want)
			}
		})
	}
}

// state is what the steps of a refresh test hand on: the pairs so far.
type state struct{ pairs []*auth.Pair }

// refresh refreshes pair i's refresh token and appends the new pair.
func refresh(i int) func(f *flow, s *state) error {
	return func(f *flow, s *state) error {
		next, err := f.svc.Refresh(f.ctx, s.pairs[i].Refresh)
		if err != nil {
			return err
		}
		if next.Refresh == "" || next.Refresh == s.pairs[i].Refresh {
			f.t.Fatalf("rotation handed out refresh %q", next.Refresh)
		}
		s.pairs = append(s.pairs, next)
		return nil
	}
}

// refreshNoRotation refreshes pair i and expects an access token only.
func refreshNoRotation(i int) func(f *flow, s *state) error {
	return func(f *flow, s *state) error {
		next, err := f.svc.Refresh(f.ctx, s.pairs[i].Refresh)
		if err != nil {
			return err
		}
		if next.Refresh != "" {
			f.t.Fatalf("refresh without rotation handed out a refresh token")
		}
		f.principal(next.Access)
		return nil
	}
}

// sameSuccessor refreshes pair i again and expects pair j's refresh token
// (the same jti: one successor).
func sameSuccessor(i, j int) func(f *flow, s *state) error {
	return func(f *flow, s *state) error {
		next, err := f.svc.Refresh(f.ctx, s.pairs[i].Refresh)
		if err != nil {
			return err
		}
		if got, want := jtiOf(f, next.Refresh), jtiOf(f, s.pairs[j].Refresh); got != want {
			f.t.Fatalf("duplicate refresh got successor %s, want %s", got, want)
		}
		return nil
	}
}

func access(i int) func(f *flow, s *state) error {
	return func(f *flow, s *state) error {
		_, err := f.svc.Authenticate(f.ctx, s.pairs[i].Access)
		return err
	}
}

func jtiOf(f *flow, raw string) string {
	f.t.Helper()
	c, err := f.tokens.Parse(raw, "")
	if err != nil {
		f.t.Fatalf("parse: %v", err)
	}
	return c.ID
}

// simpleJWTRefresh mints a refresh token as SimpleJWT does: no sid, no ver.
func (f *flow) simpleJWTRefresh() string {
	f.t.Helper()
	now := f.clock.Now()
	raw, err := f.tokens.Sign(token.Claims{
		Type: token.Refresh, ID: token.NewID(), UserID: "1",
		IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(24 * time.Hour),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// A refresh token minted by SimpleJWT is adopted into a session the first
// time it is seen, and from then on rotates, and is caught reused, like
// latch's own.
func TestSimpleJWTAdoption(t *testing.T) {
	tests := []struct {
		name string
		run  func(f *flow, legacy string)
	}{
		{"refresh adopts it into a session", func(f *flow, legacy string) {
			next, err := f.svc.Refresh(f.ctx, legacy)
			wantErr(t, "Refresh", err, nil)
			if p := f.principal(next.Access); p.SessionID == "" {
				t.Fatal("the adopted token's successor names no session")
			}
			f.clock.Advance(time.Minute)
			_, err = f.svc.Refresh(f.ctx, legacy)
			wantErr(t, "Refresh of the adopted token again", err, latch.ErrTokenReused)
			f.wantAccess("the successor's access token", next.Access, latch.ErrSessionRevoked)
		}},
		{"verify accepts it before it is seen", func(f *flow, legacy string) {
			wantErr(t, "Verify", f.svc.Verify(f.ctx, legacy), nil)
		}},
		{"blacklist adopts and revokes it", func(f *flow, legacy string) {
			wantErr(t, "Blacklist", f.svc.Blacklist(f.ctx, legacy), nil)
			_, err := f.svc.Refresh(f.ctx, legacy)
			wantErr(t, "Refresh after blacklist", err, latch.ErrSessionRevoked)
		}},
		{"concurrent first uses yield one session", func(f *flow, legacy string) {
			errs := make(chan error, 8)
			for range 8 {
				go func() { _, err := f.svc.Refresh(f.ctx, legacy); errs <- err }()
			}
			for range 8 {
				wantErr(t, "concurrent Refresh within the grace interval", <-errs, nil)
			}
			sessions, err := f.svc.Sessions(f.ctx, f.principal(f.first.Access))
			wantErr(t, "Sessions", err, nil)
			if len(sessions) != 2 { // the first login's and the adopted one
				t.Fatalf("%d sessions after concurrent adoption, want 2", len(sessions))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlow(t, nil)
			tt.run(f, f.simpleJWTRefresh())
		})
	}
}

func TestBlacklist(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *flow) string // the refresh token to blacklist
		want    error
	}{
		{"an active token", func(f *flow) string { return f.first.Refresh }, nil},
		{"twice", func(f *flow) string {
			wantErr(f.t, "first Blacklist", f.svc.Blacklist(f.ctx, f.first.Refresh), nil)
			return f.first.Refresh
		}, latch.ErrSessionRevoked},
		{"a spent token (revokes its family)", func(f *flow) string {
			if _, err := f.svc.Refresh(f.ctx, f.first.Refresh); err != nil {
				f.t.Fatal(err)
			}
			return f.first.Refresh
		}, latch.ErrSessionRevoked},
		{"an access token", func(f *flow) string { return f.first.Access }, token.ErrWrongType},
		{"garbage", func(f *flow) string { return "garbage" }, token.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlow(t, nil)
			raw := tt.prepare(f)
			wantErr(t, "Blacklist", f.svc.Blacklist(f.ctx, raw), tt.want)
			if tt.want == nil || errors.Is(tt.want, latch.ErrSessionRevoked) {
				f.wantAccess("the session's access token", f.first.Access, latch.ErrSessionRevoked)
				_, err := f.svc.Refresh(f.ctx, f.first.Refresh)
				wantErr(t, "Refresh after blacklist", err, latch.ErrSessionRevoked)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	tests := []struct {
		name string
		// refresh returns the refresh token the caller (f.first) presents.
		refresh    func(f *flow) string
		want       error
		revokesOwn bool
	}{
		{"own refresh token", func(f *flow) string { return f.first.Refresh }, nil, true},
		{"another session's token of the same user", func(f *flow) string { return f.login().Refresh }, nil, true},
		{"another user's token", func(f *flow) string {
			if _, err := f.svc.Signup(f.ctx, "bob", "another fine passphrase", ""); err != nil {
				f.t.Fatal(err)
			}
			p, err := f.svc.Login(f.ctx, "bob", "another fine passphrase", client)
			if err != nil {
				f.t.Fatal(err)
			}
			return p.Refresh
		}, auth.ErrInvalidRefresh, false},
		{"a spent token", func(f *flow) string {
			next, err := f.svc.Refresh(f.ctx, f.first.Refresh)
			if err != nil {
				f.t.Fatal(err)
			}
			f.first.Access = next.Access
			return f.first.Refresh
		}, auth.ErrInvalidRefresh, true},
		{"garbage", func(f *flow) string { return "garbage" }, auth.ErrInvalidRefresh, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlow(t, nil)
			bystander := f.login()
			raw := tt.refresh(f)
			p := f.principal(f.first.Access)
			wantErr(t, "Logout", f.svc.Logout(f.ctx, p, raw), tt.want)
			var want error
			if tt.revokesOwn {
				want = latch.ErrSessionRevoked
			}
			f.wantAccess("the caller's access token", f.first.Access, want)
			f.wantAccess("another session's access token", bystander.Access, nil)
		})
	}
}

func TestLogoutAll(t *testing.T) {
	f := newFlow(t, nil)
	others := []*auth.Pair{f.login(), f.login()}
	wantErr(t, "LogoutAll", f.svc.LogoutAll(f.ctx, f.principal(f.first.Access)), nil)
	for _, p := range append(others, f.first) {
		f.wantAccess("access token after logout-all", p.Access, latch.ErrSessionRevoked)
		_, err := f.svc.Refresh(f.ctx, p.Refresh)
		wantErr(t, "refresh after logout-all", err, latch.ErrSessionRevoked)
	}
	// A new login works at once: the version bump refuses old tokens only.
	f.wantAccess("a new login's access token", f.login().Access, nil)
}

// TestRevokedUsersAreNamed: the access tokens of a deactivated or deleted
// user are refused as SimpleJWT's JWTAuthentication refuses them ("User
// is inactive", "User not found"), though the revocation index refused
// them first; other revoked tokens stay "blacklisted". The user is read on
// the refusal only, once per TTL for a deleted user too, and never waited
// for long.
func TestRevokedUsersAreNamed(t *testing.T) {
	svc, clock, users, alice := newCountingFlows(t, nil)
	ctx := context.Background()
	bob, err := svc.Signup(ctx, "bob", alicePassword, "")
	if err != nil {
		t.Fatal(err)
	}
	bobs, err := svc.Login(ctx, "bob", alicePassword, client)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, alice.Access)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Deactivate", svc.Deactivate(ctx, p.UserID), nil)
	_, err = svc.Authenticate(ctx, alice.Access)
	wantErr(t, "a deactivated user's access token", err, latch.ErrUserInactive)

	if err := svc.RevokeUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Authenticate(ctx, bobs.Access)
	wantErr(t, "a revoked active user's access token", err, latch.ErrSessionRevoked)
	if err := users.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	svc.ForgetUser(bob.ID) // as the deletion's announcement does
	before := users.calls.Load()
	for range 3 {
		_, err = svc.Authenticate(ctx, bobs.Access)
		wantErr(t, "a deleted user's access token", err, latch.ErrNotFound)
	}
	if n := users.calls.Load() - before; n != 1 {
		t.Errorf("a deleted user's tokens read the user %d times, want 1 (then remembered)", n)
	}

	// A database that does not answer: the refusal stands, soon.
	users.release = make(chan struct{})
	defer close(users.release)
	clock.Advance(time.Minute) // past the cache's TTL
	_, err = svc.Authenticate(ctx, alice.Access)
	wantErr(t, "a deactivated user's token, the database hanging", err, latch.ErrUserInactive) // the last record known
	svc.ForgetUser(p.UserID)
	_, err = svc.Authenticate(ctx, alice.Access)
	wantErr(t, "a deactivated user's token, the database hanging, nothing known", err, latch.ErrSessionRevoked)
}

func TestChangePassword(t *testing.T) {
	tests := []struct {
		name          string
		old, new      string
		wantFields    []string // of the *auth.ValidationError
		wantPasswords map[string]error
	}{
		{"changed", alicePassword, "a brand new passphrase", nil,
			map[string]error{"a brand new passphrase": nil, alicePassword: latch.ErrInvalidCredentials}},
		{"wrong old password", "not the password", "a brand new passphrase", []string{"old_password"},
			map[string]error{alicePassword: nil, "a brand new passphrase": latch.ErrInvalidCredentials}},
		{"too short", alicePassword, "short", []string{"new_password"},
			map[string]error{alicePassword: nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlow(t, nil)
			other := f.login()
			err := f.svc.ChangePassword(f.ctx, f.principal(f.first.Access), tt.old, tt.new)
			if tt.wantFields == nil {
				wantErr(t, "ChangePassword", err, nil)
				f.wantAccess("another session", other.Access, latch.ErrSessionRevoked)
			} else {
				var verr *auth.ValidationError
				if !errors.As(err, &verr) || len(verr.Fields) != len(tt.wantFields) || verr.Fields[0].Field != tt.wantFields[0] {
					t.Fatalf("ChangePassword: %v, want field errors on %v", err, tt.wantFields)
				}
				f.wantAccess("another session", other.Access, nil)
			}
			f.wantAccess("the caller's session", f.first.Access, nil)
			for pw, want := range tt.wantPasswords {
				_, err := f.svc.Login(f.ctx, "alice", pw, client)
				wantErr(t, "login with "+pw, err, want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *flow) string
		want    error
	}{
		{"access token", func(f *flow) string { return f.first.Access }, nil},
		{"refresh token", func(f *flow) string { return f.first.Refresh }, nil},
		{"spent refresh token", func(f *flow) string {
			if _, err := f.svc.Refresh(f.ctx, f.first.Refresh); err != nil {
				f.t.Fatal(err)
			}
			return f.first.Refresh
		}, latch.ErrSessionRevoked},
		{"access token of a revoked session", func(f *flow) string {
			wantErr(f.t, "Blacklist", f.svc.Blacklist(f.ctx, f.first.Refresh), nil)
			return f.first.Access
		}, latch.ErrSessionRevoked},
		{"expired access token", func(f *flow) string {
			f.clock.Advance(16 * time.Minute)
			return f.first.Access
		}, token.ErrInvalid},
		{"garbage", func(f *flow) string { return "a.b.c" }, token.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlow(t, nil)
			raw := tt.prepare(f)
			wantErr(t, "Verify", f.svc.Verify(f.ctx, raw), tt.want)
		})
	}
}

// droppingCache is a memory cache that counts session drops.
type droppingCache struct {
	*memory.Cache
	drops atomic.Int64
}

func (c *droppingCache) DropSession(ctx context.Context, sid string) error {
	c.drops.Add(1)
	return c.Cache.DropSession(ctx, sid)
}

// TestRefreshDropsTheReplacedGeneration: a rotation drops the values the
// replaced access token cached (seed 000), so that token, still valid,
// finds none; a duplicate within the grace interval keeps the new token's
// values. Sessions that cached nothing through this instance cost no drop
// at all.
func TestRefreshDropsTheReplacedGeneration(t *testing.T) {
	cache := &droppingCache{Cache: memory.NewCache(memory.CacheOptions{})}
	f := newFlow(t, func(o *auth.Options) { o.Cache = cache })
	for range 3 { // a session that caches nothing
		p, err := f.svc.Refresh(f.ctx, f.first.Refresh)
		if err != nil {
			t.Fatal(err)
		}
		f.first = p
	}
	if n := cache.drops.Load(); n != 0 {
		t.Fatalf("%d drops for a session that cached nothing", n)
	}

	old := f.principal(f.first.Access)
	if err := f.svc.CacheFor(old).Set(f.ctx, "orders", []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.Refresh(f.ctx, f.first.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.svc.CacheFor(f.principal(f.first.Access)).Get(f.ctx, "orders"); ok {
		t.Error("the replaced access token still reads its cached value")
	}
	fresh := f.svc.CacheFor(f.principal(next.Access))
	if err := fresh.Set(f.ctx, "orders", []byte("v2"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(f.ctx, f.first.Refresh); err != nil { // a duplicate within the grace interval
		t.Fatal(err)
	}
	if v, ok, _ := fresh.Get(f.ctx, "orders"); !ok || string(v) != "v2" {
		t.Errorf("a duplicate refresh dropped the current token's value: %q, %v", v, ok)
	}
	// The replaced token stores again (valid until it expires): the next
	// rotation drops that too.
	if err := f.svc.CacheFor(f.principal(f.first.Access)).Set(f.ctx, "orders", []byte("v1 again"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(f.ctx, next.Refresh); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.svc.CacheFor(f.principal(f.first.Access)).Get(f.ctx, "orders"); ok {
		t.Error("a value the replaced token stored again survived the next rotation")
	}
}
