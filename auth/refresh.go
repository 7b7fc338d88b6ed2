package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/token"
)

// userOf parses the user id claim.
func userOf(c *token.Claims) (int64, error) {
	if c.UserID == "" {
		return 0, ErrNoUserID
	}
	id, err := strconv.ParseInt(c.UserID, 10, 64)
	if err != nil {
		// Not one of latch's ids (a UUID of another user table): no
		// user of this deployment, so the token is no good here.
		return 0, fmt.Errorf("user id claim: %w", token.ErrInvalid)
	}
	return id, nil
}

// refreshRecord finds the stored record of a verified refresh token. A
// token minted by SimpleJWT (no sid) is adopted into a new session the
// first time it is seen, so that migrating from SimpleJWT logs no one out
// and its reuse is detected like any other.
func (s *Service) refreshRecord(ctx context.Context, c *token.Claims, u *latch.User) (*latch.RefreshToken, *latch.Session, error) {
	hash := hashJTI(c.ID)
	rec, sess, err := s.opts.Sessions.RefreshToken(ctx, c.SessionID, hash)
	if err == nil {
		if sess.UserID != u.ID {
			return nil, nil, fmt.Errorf("refresh token of another user: %w", token.ErrInvalid)
		}
		return rec, sess, nil
	}
	if !errors.Is(err, latch.ErrNotFound) {
		return nil, nil, err
	}
	if c.SessionID != "" {
		// Ours but unknown: purged, or from another deployment.
		return nil, nil, fmt.Errorf("unknown refresh token: %w", token.ErrInvalid)
	}
	now := s.opts.Now()
	sess = &latch.Session{
		ID: newSessionID(), UserID: u.ID, CreatedAt: c.IssuedAt, LastUsedAt: now,
		ExpiresAt: earliest(c.IssuedAt.Add(s.opts.SessionLifetime), c.ExpiresAt.Add(s.opts.SessionLifetime)),
	}
	rec = &latch.RefreshToken{Hash: hash, SessionID: sess.ID, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt}
	if err := s.opts.Sessions.CreateSession(ctx, sess, rec); err != nil {
		// A concurrent adoption of the same token won; its record now exists.
		if rec, sess, err2 := s.opts.Sessions.RefreshToken(ctx, "", hash); err2 == nil {
			return rec, sess, nil
		}
		return nil, nil, fmt.Errorf("adopt refresh token: %w", err)
	}
	return rec, sess, nil
}

// parseRefresh verifies a refresh token and loads its user.
func (s *Service) parseRefresh(ctx context.Context, raw string) (*token.Claims, *latch.User, error) {
	c, err := s.parse(ctx, raw, token.Refresh)
	if err != nil {
		return nil, nil, err
	}
	id, err := userOf(c)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.opts.Users.UserByID(ctx, id)
	if errors.Is(err, latch.ErrNotFound) {
		// A deleted user's sessions went with them: the token is revoked.
		return nil, nil, fmt.Errorf("user %d: %w", id, latch.ErrSessionRevoked)
	}
	if err != nil {
		return nil, nil, err
	}
	return c, u, nil
}

// parseLiveRefresh is parseRefresh for a token that may still be used: its
// user is active and its version not revoked.
func (s *Service) parseLiveRefresh(ctx context.Context, raw string) (*token.Claims, *latch.User, error) {
	c, err := s.parse(ctx, raw, token.Refresh)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.liveUser(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return c, u, nil
}

// refreshUser loads the user a refresh (or sliding) token names. No such
// user (deleted, or never here: a SimpleJWT token of another user table)
// makes the token no good, a 401 like any other.
func (s *Service) refreshUser(ctx context.Context, id int64) (*latch.User, error) {
	u, err := s.opts.Users.UserByID(ctx, id)
	if errors.Is(err, latch.ErrNotFound) {
		return nil, fmt.Errorf("user %d: %w", id, token.ErrInvalid)
	}
	return u, err
}

// liveUser loads the user of refresh token c and checks that its tokens
// may still be used: the user is active and c's version not revoked.
func (s *Service) liveUser(ctx context.Context, c *token.Claims) (*latch.User, error) {
	id, err := userOf(c)
	if err != nil {
		return nil, err
	}
	u, err := s.refreshUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, latch.ErrUserInactive
	}
	if !latch.UserVersion(u).Allows(c.SessionID, c.Version) {
		return nil, latch.ErrSessionRevoked
	}
	return u, nil
}

// Refresh exchanges a refresh token for a new access token and, with
// rotation on, a new refresh token. A refresh token presented again after
// it was rotated revokes its whole session (latch.ErrTokenReused), unless
// it comes within the reuse interval, which returns the same successor.
func (s *Service) Refresh(ctx context.Context, raw string) (*Pair, error) {
	c, err := s.parse(ctx, raw, token.Refresh)
	if err != nil {
		return nil, err
	}
	if c.SessionID != "" && s.opts.RotateRefreshTokens && s.opts.BlacklistAfterRotation {
		pair, err := s.rotateChecked(ctx, c)
		if !errors.Is(err, errSlowPath) {
			return pair, err
		}
	}
	return s.refreshRead(ctx, c)
}

// errSlowPath: the one-statement rotation did not happen and did not
// find out why; Refresh reads what it needs and tries again.
var errSlowPath = errors.New("refresh: slow path")

// rotateChecked is a refresh with rotation in one store call, with no
// read before it: the store checks, in the statement that spends the
// token, what refreshRead reads first (the user active, its version, the
// session's user and idle time) and returns the user the new tokens are
// signed for. It returns errSlowPath when refreshRead must decide: a
// failed check (whose reason it tells, idle sessions revoked), a revoked
// session, or a duplicate within the grace interval.
func (s *Service) rotateChecked(ctx context.Context, c *token.Claims) (*Pair, error) {
	id, err := userOf(c)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	jti := token.NewID()
	next := latch.RefreshToken{
		Hash: hashJTI(jti), SessionID: c.SessionID, IssuedAt: now,
		ExpiresAt: now.Add(s.opts.RefreshLifetime), // the store caps it at the session's end
	}
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	sess, u, err := s.opts.Sessions.Rotate(storeCtx, latch.Rotation{
		OldHash: hashJTI(c.ID), Next: next, NextJTI: jti, Spend: true,
		ReuseInterval: s.opts.ReuseInterval, Now: now,
		Check: &latch.RotationCheck{UserID: id, Version: c.Version, IdleTimeout: s.opts.IdleTimeout},
	})
	cancel()
	var spent *latch.SpentError
	switch {
	case errors.Is(err, latch.ErrRotationCheck), errors.As(err, &spent), errors.Is(err, latch.ErrSessionRevoked):
		// A revoked session may be a deactivated user's, which is
		// answered as such.
		return nil, errSlowPath
	case err != nil:
		return nil, s.spentOrRevoked(ctx, err)
	}
	// Cached values are keyed by the access token's generation (see
	// PrincipalCache): the new tokens cannot reach the old ones; the
	// replaced token's are dropped where this instance stored some.
	s.dropReplaced(ctx, sess.ID)
	return s.signPair(ctx, u, sess, jti, now, earliest(next.ExpiresAt, sess.ExpiresAt))
}

// signPair signs the refresh token (jti, issued at iat until exp) and
// the access token of u in sess that goes with it: issued at the same
// time, with an id derived from jti, so that a duplicate refresh within
// the grace interval is handed the same pair (SPEC §5.2: the same claims,
// so the same strings with HMAC and RSA keys), not the same refresh
// token beside another access token. A duplicate that comes after that
// access token has expired (a grace interval longer than the access
// lifetime) gets a fresh one instead of a dead one.
func (s *Service) signPair(ctx context.Context, u *latch.User, sess *latch.Session, jti string, iat, exp time.Time) (*Pair, error) {
	c := s.claimsFor(u, sess.ID, token.Refresh, jti, iat, exp)
	refresh, err := s.sign(ctx, c)
	if err != nil {
		return nil, err
	}
	accessJTI, accessIAT := pairedAccessID(jti), iat
	if now := s.opts.Now(); !iat.Add(s.opts.AccessLifetime).After(now) {
		accessJTI, accessIAT = token.NewID(), now
	}
	access, err := s.accessLike(ctx, c, sess, accessJTI, accessIAT)
	if err != nil {
		return nil, err
	}
	return &Pair{Access: access, Refresh: refresh}, nil
}

// refreshRead is Refresh that reads the user and the token's record
// first: for tokens without a session (SimpleJWT's), refresh without
// rotation or spending, and whatever rotateChecked leaves to it.
func (s *Service) refreshRead(ctx context.Context, c *token.Claims) (*Pair, error) {
	u, err := s.liveUser(ctx, c)
	if err != nil {
		return nil, err
	}
	rec, sess, err := s.refreshRecord(ctx, c, u)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	if s.opts.IdleTimeout > 0 && sess.Active(now) && now.Sub(sess.LastUsedAt) > s.opts.IdleTimeout {
		if _, err := s.revokeSession(ctx, sess.ID, "idle"); err != nil {
			return nil, err
		}
		return nil, latch.ErrSessionRevoked
	}
	if !s.opts.RotateRefreshTokens {
		sess, err := s.opts.Sessions.Touch(ctx, rec.SessionID, rec.Hash, now)
		if err != nil {
			return nil, s.spentOrRevoked(ctx, err)
		}
		// No cache drop: the new access token is a new generation (CacheFor).
		access, err := s.issueAccess(ctx, u, sess, now)
		return &Pair{Access: access}, err
	}
	jti := token.NewID()
	next := latch.RefreshToken{
		Hash: hashJTI(jti), SessionID: sess.ID, IssuedAt: now,
		ExpiresAt: earliest(now.Add(s.opts.RefreshLifetime), sess.ExpiresAt),
	}
	// The client hanging up must not cut the rotation (or the revocation
	// of a reused family) short: it runs to its end.
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	sess, _, err = s.opts.Sessions.Rotate(storeCtx, latch.Rotation{
		OldHash: rec.Hash, Next: next, NextJTI: jti, Spend: s.opts.BlacklistAfterRotation,
		ReuseInterval: s.opts.ReuseInterval, Now: now,
	})
	cancel()
	var succ *latch.Successor
	if err != nil {
		var spent *latch.SpentError
		if !errors.As(err, &spent) {
			return nil, s.spentOrRevoked(ctx, err)
		}
		// A duplicate within the grace interval (two tabs): hand out the
		// same successor, never a second one.
		succ = spent.Token.Successor
		if sess, err = s.opts.Sessions.Session(ctx, rec.SessionID); err != nil {
			return nil, err
		}
		if !sess.Active(now) {
			return nil, latch.ErrSessionRevoked
		}
	} else {
		succ = &latch.Successor{JTI: jti, IssuedAt: next.IssuedAt, ExpiresAt: next.ExpiresAt}
		s.dropReplaced(ctx, sess.ID)
	}
	return s.signPair(ctx, u, sess, succ.JTI, succ.IssuedAt, succ.ExpiresAt)
}

// storeTimeout bounds store calls that run past the request's end.
const storeTimeout = 10 * time.Second

// spentOrRevoked turns a store refusal into the flow's error. A reused
// token's family was revoked by the store in the same transaction that
// found it spent; the other instances are told here.
func (s *Service) spentOrRevoked(ctx context.Context, err error) error {
	var reused *latch.ReuseError
	switch {
	case errors.As(err, &reused):
		s.announceSession(ctx, reused.Session)
		s.opts.Logger.Warn("refresh token reuse: session revoked", "session", reused.Session.ID)
		return latch.ErrTokenReused
	case errors.Is(err, latch.ErrTokenSpent), errors.Is(err, latch.ErrSessionRevoked):
		return latch.ErrSessionRevoked
	case errors.Is(err, latch.ErrNotFound):
		return fmt.Errorf("refresh: %w", token.ErrInvalid)
	}
	return err
}

// revokeSession revokes a session in the database and on every instance.
func (s *Service) revokeSession(ctx context.Context, id, reason string) (*latch.Session, error) {
	sess, err := s.opts.Sessions.RevokeSession(ctx, id, reason, s.opts.Now())
	if err != nil {
		return nil, err
	}
	s.announceSession(ctx, sess)
	return sess, nil
}

// Verify checks any token as SimpleJWT's verify endpoint does, plus
// revocation: a token of a revoked session, or a spent refresh token,
// returns latch.ErrSessionRevoked ("blacklisted").
func (s *Service) Verify(ctx context.Context, raw string) error {
	c, err := s.parse(ctx, raw, "")
	if err != nil {
		return err
	}
	if c.Type == token.Refresh {
		rec, sess, err := s.opts.Sessions.RefreshToken(ctx, c.SessionID, hashJTI(c.ID))
		switch {
		case errors.Is(err, latch.ErrNotFound):
			return nil // a SimpleJWT token not seen yet
		case err != nil:
			return err
		case !rec.SpentAt.IsZero() && s.opts.BlacklistAfterRotation, !sess.Active(s.opts.Now()):
			return latch.ErrSessionRevoked
		}
	}
	if s.opts.RefreshOnly || c.UserID == "" {
		return nil
	}
	id, err := userOf(c)
	if err != nil {
		return nil // verify does not look users up, as SimpleJWT
	}
	return s.opts.Revocations.Check(ctx, c.SessionID, id, c.Version)
}

// Blacklist revokes the session of a refresh token, as SimpleJWT's
// blacklist endpoint (used by frontends as logout). A spent token or a
// token of a revoked session returns latch.ErrSessionRevoked.
func (s *Service) Blacklist(ctx context.Context, raw string) error {
	c, u, err := s.parseRefresh(ctx, raw)
	if err != nil {
		return err
	}
	rec, sess, err := s.refreshRecord(ctx, c, u)
	if err != nil {
		return err
	}
	if !sess.Active(s.opts.Now()) {
		return latch.ErrSessionRevoked
	}
	if !rec.SpentAt.IsZero() && s.opts.BlacklistAfterRotation {
		// A spent token is answered as blacklisted, and its presenter is
		// either the owner logging out or a thief: revoke the session.
		if _, err := s.revokeSession(ctx, sess.ID, latch.ReasonReuse); err != nil {
			return err
		}
		return latch.ErrSessionRevoked
	}
	_, err = s.revokeSession(ctx, sess.ID, latch.ReasonLogout)
	return err
}
