package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/token"
)

// ErrSlidingDisabled is returned when sliding tokens are not enabled.
var ErrSlidingDisabled = errors.New("sliding tokens are disabled")

// LoginSliding checks the credentials and returns a sliding token, as
// SimpleJWT's TokenObtainSlidingView. The token names a new session and is
// revocable like any other; its jti is the session's refresh record.
func (s *Service) LoginSliding(ctx context.Context, login, pw string, client Client) (string, error) {
	if !s.opts.Sliding {
		return "", ErrSlidingDisabled
	}
	u, err := s.authenticateUser(ctx, login, pw)
	if err != nil {
		return "", err
	}
	now := s.opts.Now()
	sess := s.newSession(u, client, now)
	c := s.claimsFor(u, sess.ID, token.Sliding, token.NewID(), now, earliest(now.Add(s.opts.SlidingLifetime), sess.ExpiresAt))
	c.RefreshExpiresAt = earliest(now.Add(s.opts.SlidingRefreshLifetime), sess.ExpiresAt)
	raw, err := s.sign(ctx, c)
	if err != nil {
		return "", err
	}
	rec := &latch.RefreshToken{Hash: hashJTI(c.ID), SessionID: sess.ID, IssuedAt: now, ExpiresAt: c.RefreshExpiresAt}
	if err := s.opts.Sessions.CreateSession(ctx, sess, rec); err != nil {
		return "", fmt.Errorf("sliding login: %w", err)
	}
	return raw, nil
}

// RefreshSliding extends a sliding token, as SimpleJWT's
// TokenRefreshSlidingView: the token must still be valid and its
// refresh_exp not passed; the new token keeps jti and refresh_exp with a
// new exp and iat. A token of a revoked session is refused.
func (s *Service) RefreshSliding(ctx context.Context, raw string) (string, error) {
	if !s.opts.Sliding {
		return "", ErrSlidingDisabled
	}
	c, err := s.parse(ctx, raw, token.Sliding)
	if err != nil {
		return "", err
	}
	if s.opts.Tokens.RefreshExpired(c) {
		return "", token.ErrRefreshExpired
	}
	id, err := userOf(c)
	if err != nil {
		return "", err
	}
	u, err := s.refreshUser(ctx, id)
	if err != nil {
		return "", err
	}
	if !u.IsActive {
		return "", latch.ErrUserInactive
	}
	v := latch.UserVersion(u)
	if !v.Allows(c.SessionID, c.Version) {
		return "", latch.ErrSessionRevoked
	}
	now := s.opts.Now()
	sess, err := s.opts.Sessions.Touch(ctx, c.SessionID, hashJTI(c.ID), now)
	if err != nil {
		return "", s.spentOrRevoked(ctx, err)
	}
	s.dropCache(ctx, sess.ID)
	next := s.claimsFor(u, sess.ID, token.Sliding, c.ID, now, earliest(now.Add(s.opts.SlidingLifetime), sess.ExpiresAt))
	next.RefreshExpiresAt = c.RefreshExpiresAt
	return s.sign(ctx, next)
}
