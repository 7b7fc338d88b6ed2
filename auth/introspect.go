package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/token"
)

// Introspection is a token found currently valid by Introspect.
type Introspection struct {
	Claims token.Claims
	User   *latch.User
}

// Introspect reports whether raw is a currently valid token of this
// deployment (RFC 7662): an access or sliding token is checked as
// Authenticate checks it (the local revocation index, the cached user); a
// refresh token against its stored record (not spent, session active).
// Any error but latch.ErrUnavailable means the token is not active.
func (s *Service) Introspect(ctx context.Context, raw string) (*Introspection, error) {
	c, err := s.parse(ctx, raw, "")
	if err != nil {
		return nil, err
	}
	if c.Type == token.Refresh {
		return s.introspectRefresh(ctx, raw)
	}
	p, err := s.Authenticate(ctx, raw)
	if err != nil {
		return nil, err
	}
	u, err := s.User(ctx, p)
	if err != nil {
		return nil, err
	}
	return &Introspection{Claims: p.Claims(), User: u}, nil
}

func (s *Service) introspectRefresh(ctx context.Context, raw string) (*Introspection, error) {
	c, u, err := s.parseLiveRefresh(ctx, raw)
	if err != nil {
		return nil, err
	}
	rec, sess, err := s.opts.Sessions.RefreshToken(ctx, c.SessionID, hashJTI(c.ID))
	switch {
	case errors.Is(err, latch.ErrNotFound) && c.SessionID == "":
		// SimpleJWT's token not seen yet: a refresh would adopt it.
	case errors.Is(err, latch.ErrNotFound):
		return nil, fmt.Errorf("unknown refresh token: %w", token.ErrInvalid)
	case err != nil:
		return nil, err
	case sess.UserID != u.ID:
		return nil, fmt.Errorf("refresh token of another user: %w", token.ErrInvalid)
	case !rec.SpentAt.IsZero() && s.opts.BlacklistAfterRotation, !sess.Active(s.opts.Now()):
		return nil, latch.ErrSessionRevoked
	}
	return &Introspection{Claims: *c, User: u}, nil
}
