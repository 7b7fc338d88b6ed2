// Package auth implements latch's flows on top of the stores: login,
// refresh with rotation and reuse detection, logout and revocation,
// password change, signup, and Authenticate, the check every
// authenticated request goes through.
//
// It knows nothing of HTTP: handlers in package httpapi call it and map its
// errors to SimpleJWT's responses.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/striped"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/token"
)

// Revocations is the revocation state the flows consult and feed;
// *revocation.Manager implements it.
type Revocations interface {
	// Check returns latch.ErrSessionRevoked when a token of session sid,
	// user and token version ver is revoked, latch.ErrUnavailable when it
	// cannot tell.
	Check(ctx context.Context, sid string, userID, ver int64) error
	// Announce applies r at once on every instance.
	Announce(ctx context.Context, r latch.Revocation) error
}

// PasswordHasher hashes and checks passwords: a [*password.Hasher] hashes
// in this process, a [*password.Process] in a separate one. Errors other
// than [password.ErrUnknownScheme] and [password.ErrMalformed] from Verify
// (a failed hashing process) make the Service answer [latch.ErrUnavailable].
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(encoded, password string) (ok, needsRehash bool, err error)
	Dummy(password string) error
}

// Options configure a Service. DefaultOptions gives SimpleJWT's defaults as
// latch's SPEC sets them; the stores, engine, hasher and revocations are
// required.
type Options struct {
	Users       latch.UserStore
	Sessions    latch.SessionStore
	Tokens      *token.Engine
	Hasher      PasswordHasher
	Pool        *password.Pool // bounds concurrent hashing; nil: unbounded
	Revocations Revocations
	// Cache is the per-session cache applications use (seed 000); latch
	// drops a session's values when it rotates or is revoked. nil: none.
	Cache latch.SessionCache
	// Guard slows down password guessing per account, across IPs; nil: off.
	Guard ratelimit.Guard
	// Opaque hands out random handles instead of JWTs, resolved through
	// Handles (required then). JWTs are still accepted.
	Opaque  bool
	Handles latch.HandleStore

	AccessLifetime  time.Duration
	RefreshLifetime time.Duration
	SessionLifetime time.Duration // absolute cap; rotation never extends past it
	IdleTimeout     time.Duration // 0: off
	Leeway          time.Duration

	// Sliding enables SimpleJWT's sliding tokens: one token that is both
	// presented and refreshed, until RefreshLifetime of the sliding kind.
	Sliding                bool
	SlidingLifetime        time.Duration
	SlidingRefreshLifetime time.Duration

	RotateRefreshTokens    bool
	BlacklistAfterRotation bool
	// ReuseInterval is the grace during which a duplicate refresh of a
	// just-rotated token gets the same successor instead of revoking the
	// session; 0 disables it.
	ReuseInterval time.Duration
	// RefreshOnly gives SimpleJWT's semantics: only refresh tokens are
	// checked against revocations; access tokens live until they expire.
	RefreshOnly     bool
	UpdateLastLogin bool
	// CustomClaims are user fields copied into every token, read from the
	// user record at each issue: "username", "role", "email".
	CustomClaims      []string
	MinPasswordLength int
	DefaultRole       string
	// LoginField says what a login's identifier is; "" is LoginUsername.
	LoginField LoginField
	// AdminRole is the role that may use the admin API; "" is "admin".
	AdminRole string
	// Accounts configure password reset, email verification and email
	// change (SPEC §10).
	Accounts AccountOptions
	// VerifiedCacheSize bounds the cache of verified access tokens.
	VerifiedCacheSize int
	// UserCacheTTL is how long Authenticate trusts a cached user record.
	UserCacheTTL time.Duration

	Logger *slog.Logger
	Now    func() time.Time
}

// DefaultOptions returns the defaults of SPEC §2.
func DefaultOptions() Options {
	return Options{
		AccessLifetime:         15 * time.Minute,
		SlidingLifetime:        5 * time.Minute,
		SlidingRefreshLifetime: 24 * time.Hour,
		RefreshLifetime:        14 * 24 * time.Hour,
		SessionLifetime:        30 * 24 * time.Hour,
		RotateRefreshTokens:    true,
		BlacklistAfterRotation: true,
		ReuseInterval:          10 * time.Second,
		UpdateLastLogin:        true,
		CustomClaims:           []string{"username", "role"},
		MinPasswordLength:      8,
		DefaultRole:            "user",
		VerifiedCacheSize:      100_000,
		UserCacheTTL:           30 * time.Second,
	}
}

// Service runs the flows.
type Service struct {
	opts     Options
	verified *verifiedCache
	users    *userCache
	// cachedSessions are the sessions this instance stored cache values
	// for: a rotation of one drops them (dropReplaced); the others cost
	// nothing.
	cachedSessions *generations[string, struct{}]
	pending        sync.WaitGroup // mail work requests left running (Drain)
	// authenticated counts accepted access tokens: the load signal of
	// the adaptive hashing pool (see Authenticated).
	authenticated striped.Counter
}

// New validates opts and returns a Service.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Users == nil, opts.Sessions == nil, opts.Tokens == nil, opts.Hasher == nil, opts.Revocations == nil:
		return nil, errors.New("auth: Users, Sessions, Tokens, Hasher and Revocations are required")
	case opts.AccessLifetime <= 0, opts.RefreshLifetime <= 0, opts.SessionLifetime <= 0,
		opts.Sliding && (opts.SlidingLifetime <= 0 || opts.SlidingRefreshLifetime <= 0):
		return nil, errors.New("auth: token and session lifetimes must be positive")
	case opts.Opaque && opts.Handles == nil:
		return nil, errors.New("auth: opaque tokens need a HandleStore")
	case opts.IdleTimeout < 0, opts.ReuseInterval < 0, opts.Leeway < 0:
		return nil, errors.New("auth: durations must not be negative")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.VerifiedCacheSize <= 0 {
		opts.VerifiedCacheSize = 100_000
	}
	if opts.DefaultRole == "" {
		opts.DefaultRole = "user"
	}
	if opts.AdminRole == "" {
		opts.AdminRole = "admin"
	}
	var err error
	if opts.LoginField, err = ParseLoginField(string(opts.LoginField)); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if t := opts.Accounts.Tokens; t != nil && !sameStore(t, opts.Users) {
		return nil, errors.New("auth: Accounts.Tokens must be the Users store: a password change spends reset links in its own transaction")
	}
	if err := opts.Accounts.defaults(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Service{
		opts:           opts,
		verified:       newVerifiedCache(opts.VerifiedCacheSize),
		users:          newUserCache(opts.Users, opts.UserCacheTTL, opts.Now),
		cachedSessions: newGenerations[string, struct{}](maxCachedSessions),
	}, nil
}

// Client describes who asks, recorded on the session.
type Client struct {
	UserAgent string
	IP        string
}

// Pair is what login and refresh hand out. Refresh is empty when a
// refresh does not rotate.
type Pair struct {
	Access  string
	Refresh string
}

// ErrNoUserID: the token names no user. Its text is SimpleJWT's, which
// the HTTP layer shows as is.
var ErrNoUserID = errors.New("Token contained no recognizable user identification") //lint:ignore ST1005 SimpleJWT's wire text

// hashJTI is how refresh tokens are known to the store.
func hashJTI(jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(sum[:])
}

// pairedAccessID is the jti of the access token issued with the refresh
// token refreshJTI: as unique as that one, and not the prefix of its
// stored hash (hashJTI), which it is kept apart from by a label.
func pairedAccessID(refreshJTI string) string {
	sum := sha256.Sum256([]byte("latch paired access\x00" + refreshJTI))
	return hex.EncodeToString(sum[:16])
}

func (s *Service) hash(ctx context.Context, fn func()) error {
	if s.opts.Pool == nil {
		fn()
		return nil
	}
	return s.opts.Pool.Do(ctx, fn)
}

// claimsFor builds the claims common to the tokens of u in session sid.
func (s *Service) claimsFor(u *latch.User, sid string, typ token.Type, jti string, iat, exp time.Time) token.Claims {
	c := token.Claims{
		Type:      typ,
		ID:        jti,
		UserID:    strconv.FormatInt(u.ID, 10),
		SessionID: sid,
		Version:   u.TokenVersion,
		IssuedAt:  iat,
		ExpiresAt: exp,
	}
	if len(s.opts.CustomClaims) > 0 {
		c.Extra = make(map[string]any, len(s.opts.CustomClaims))
		for _, name := range s.opts.CustomClaims {
			switch name {
			case "username":
				c.Extra[name] = u.Username
			case "role":
				c.Extra[name] = u.Role
			case "email":
				c.Extra[name] = u.Email
			}
		}
	}
	return c
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// issueAccess signs a fresh access token of u in session sess.
func (s *Service) issueAccess(ctx context.Context, u *latch.User, sess *latch.Session, now time.Time) (string, error) {
	return s.accessLike(ctx, s.claimsFor(u, sess.ID, token.Access, "", now, now), sess, token.NewID(), now)
}

// accessLike signs an access token jti, issued at iat, in session sess
// with the user claims of c, those of a token just signed for the same
// user and session: a pair's two tokens share them rather than build them
// twice.
func (s *Service) accessLike(ctx context.Context, c token.Claims, sess *latch.Session, jti string, iat time.Time) (string, error) {
	c.Type, c.ID, c.IssuedAt, c.RefreshExpiresAt = token.Access, jti, iat, time.Time{}
	c.ExpiresAt = earliest(iat.Add(s.opts.AccessLifetime), sess.ExpiresAt)
	return s.sign(ctx, c)
}

// Cache returns the per-session cache, or nil when none is configured.
func (s *Service) Cache() latch.SessionCache { return s.opts.Cache }

// dropCache forgets a session's cached values; a failure is logged: the
// values then live until their TTL, which must stay short.
func (s *Service) dropCache(ctx context.Context, sid string) {
	if s.opts.Cache == nil || sid == "" {
		return
	}
	s.cachedSessions.delete(sid)
	if err := s.opts.Cache.DropSession(ctx, sid); err != nil {
		s.opts.Logger.Warn("drop session cache", "session", sid, "err", err)
	}
}

// maxCachedSessions bounds Service.cachedSessions; a session pushed out
// keeps its replaced values until their TTL, as on other instances.
const maxCachedSessions = 100_000

// dropReplaced drops the cached values of session sid as a rotation
// replaces its tokens (seed 000: a refresh deletes the old token's
// entries). The new tokens never reach them anyway (CacheFor: they are
// a new generation, with no values yet); this is for the replaced access
// token, valid until it expires, and for values it stored again after an
// earlier rotation. It runs only for sessions this instance stored values
// for (one round trip to Redis then), so that refreshes of the others,
// nearly all, cost nothing; values stored through another instance expire
// with their TTL. A failure is logged.
func (s *Service) dropReplaced(ctx context.Context, sid string) {
	if s.opts.Cache == nil {
		return
	}
	if _, ok := s.cachedSessions.get(sid); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	defer cancel()
	s.dropCache(ctx, sid)
}

// announceSession tells every instance that sess was revoked, and drops
// its cached values.
func (s *Service) announceSession(ctx context.Context, sess *latch.Session) {
	s.dropCache(ctx, sess.ID)
	s.deleteHandles(ctx, sess.ID)
	until := sess.RevokedAt.Add(s.RevocationWindow())
	if err := s.opts.Revocations.Announce(ctx, latch.Revocation{SessionID: sess.ID, Until: until}); err != nil {
		// The revocation is in the database; other instances catch up from it.
		s.opts.Logger.Warn("announce session revocation", "session", sess.ID, "err", err)
	}
}

// announceUserChange drops user id's cached record here and tells the other
// instances to drop theirs: a change that revokes nothing (a username,
// an email) would otherwise show there only when their copy expires.
func (s *Service) announceUserChange(ctx context.Context, id int64) {
	s.users.forget(id)
	if err := s.opts.Revocations.Announce(ctx, latch.Revocation{UserChanged: id}); err != nil {
		s.opts.Logger.Warn("announce user change", "user", id, "err", err)
	}
}

// ForgetUser drops the cached record of user id, for another instance's
// change of it (revocation.Options.UserChanged).
func (s *Service) ForgetUser(id int64) { s.users.forget(id) }

func (s *Service) announceVersion(ctx context.Context, v latch.TokenVersion) {
	s.users.forget(v.UserID)
	until := s.opts.Now().Add(s.RevocationWindow())
	if err := s.opts.Revocations.Announce(ctx, latch.Revocation{Version: v, Until: until}); err != nil {
		s.opts.Logger.Warn("announce token version", "user", v.UserID, "err", err)
	}
}

// RefreshExpiry returns when a refresh token issued by this service
// expires, for the cookie that carries it; zero if it does not parse.
func (s *Service) RefreshExpiry(ctx context.Context, raw string) time.Time {
	c, err := s.parse(ctx, raw, token.Refresh)
	if err != nil {
		return time.Time{}
	}
	return c.ExpiresAt
}

// RevocationWindow is how long a token presented on authenticated
// requests can outlive its session's revocation: the longest lifetime of
// such a token, plus leeway. The revocation index keeps entries that long.
func (s *Service) RevocationWindow() time.Duration {
	return RevocationWindow(s.opts)
}

// RevocationWindow computes Service.RevocationWindow from options, for
// wiring the revocation index before the Service exists.
func RevocationWindow(opts Options) time.Duration {
	w := opts.AccessLifetime
	if opts.Sliding && opts.SlidingLifetime > w {
		w = opts.SlidingLifetime
	}
	return w + opts.Leeway
}

// sameStore reports whether a and b are one value (one store behind two
// of its interfaces).
func sameStore(a, b any) (same bool) {
	defer func() {
		if recover() != nil { // a value with an incomparable field: not provably one
			same = false
		}
	}()
	return a == b
}
