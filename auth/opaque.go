package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/token"
)

// opaquePrefix marks opaque handles; a JWT always contains dots, a handle
// never does, so both forms are told apart without a lookup.
const opaquePrefix = "lat_"

// sign issues the client's form of c: a JWT, or with opaque tokens a
// handle whose hash the store maps to c (seed 002: the client gets a key,
// the server keeps what it stands for). The handle is derived from the
// token's type, jti and times with a key only latch holds: unguessable as
// a random one (jtis are random), and the same for the same token, as a
// JWT is, so that a refresh repeated in the grace interval hands out the
// same pair. A slid sliding token keeps its jti but not its times.
func (s *Service) sign(ctx context.Context, c token.Claims) (string, error) {
	if !s.opts.Opaque {
		return s.opts.Tokens.Sign(c)
	}
	if c.ID == "" {
		c.ID = token.NewID()
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("opaque token: %w", err)
	}
	handle := opaquePrefix + handleEncoding.EncodeToString(s.opts.Tokens.Derive("opaque handle", handleInput(c))) // 256 bits
	if err := s.opts.Handles.PutHandle(ctx, hashHandle(handle), c.SessionID, b, c.ExpiresAt.Add(s.opts.Leeway)); err != nil {
		return "", fmt.Errorf("opaque token: %w", err)
	}
	return handle, nil
}

// parse verifies a token in either form. Handles are resolved through the
// store; JWTs (SimpleJWT's, or issued before the switch) still verify.
func (s *Service) parse(ctx context.Context, raw string, want token.Type) (*token.Claims, error) {
	if !strings.HasPrefix(raw, opaquePrefix) || s.opts.Handles == nil {
		return s.opts.Tokens.Parse(raw, want)
	}
	b, err := s.opts.Handles.Handle(ctx, hashHandle(raw), s.opts.Now())
	if errors.Is(err, latch.ErrNotFound) {
		return nil, fmt.Errorf("unknown or expired handle: %w", token.ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", latch.ErrUnavailable, err)
	}
	var c token.Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("stored claims: %w", token.ErrInvalid)
	}
	if !s.opts.Now().Before(c.ExpiresAt.Add(s.opts.Leeway)) {
		return nil, fmt.Errorf("handle expired: %w", token.ErrInvalid)
	}
	if want != "" && c.Type != want {
		return nil, token.ErrWrongType
	}
	return &c, nil
}

// handleInput is what a handle is derived from: every claim that tells
// one issued token from another.
func handleInput(c token.Claims) string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%d", c.Type, c.ID, c.IssuedAt.UnixNano(), c.ExpiresAt.UnixNano())
}

// handleEncoding writes handles as rand.Text writes text.
var handleEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func hashHandle(handle string) string {
	sum := sha256.Sum256([]byte(handle))
	return hex.EncodeToString(sum[:])
}

// deleteHandles forgets a revoked session's handles: with opaque tokens,
// deleting the handle is the logout.
func (s *Service) deleteHandles(ctx context.Context, sid string) {
	if s.opts.Handles == nil || sid == "" {
		return
	}
	if err := s.opts.Handles.DeleteSessionHandles(ctx, sid); err != nil {
		s.opts.Logger.Warn("delete opaque handles", "session", sid, "err", err)
	}
}
