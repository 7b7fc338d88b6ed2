package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/token"
)

// ErrInvalidRefresh is Logout's answer to a refresh token that is invalid,
// spent, or not the caller's.
var ErrInvalidRefresh = errors.New("invalid token")

// tokenProblems are the errors that make a refresh token one Logout
// refuses; anything else (a store that could not answer) is returned as
// it is, so that a logout that was not recorded is never a 400 the
// client would not retry.
var tokenProblems = []error{
	token.ErrInvalid, token.ErrExpired, token.ErrWrongType, token.ErrNoType, token.ErrNoID, token.ErrNoExp,
	token.ErrNoRefreshExp, token.ErrRefreshExpired, ErrNoUserID,
	latch.ErrNotFound, latch.ErrSessionRevoked, latch.ErrTokenSpent, latch.ErrTokenReused, latch.ErrUserInactive,
}

// invalidRefresh wraps err with ErrInvalidRefresh when it is about the
// token, and returns any other error untouched.
func invalidRefresh(err error) error {
	if errors.Is(err, latch.ErrUnavailable) {
		return err
	}
	for _, target := range tokenProblems {
		if errors.Is(err, target) {
			return fmt.Errorf("%w: %w", ErrInvalidRefresh, err)
		}
	}
	return err
}

// Logout revokes, at once, the caller's session and the session of the
// refresh token it presents (normally the same one).
func (s *Service) Logout(ctx context.Context, p *Principal, raw string) error {
	c, u, err := s.parseRefresh(ctx, raw)
	if err != nil {
		return invalidRefresh(err)
	}
	if u.ID != p.UserID {
		return ErrInvalidRefresh
	}
	rec, sess, err := s.refreshRecord(ctx, c, u)
	if err != nil {
		return invalidRefresh(err)
	}
	if !sess.Active(s.opts.Now()) {
		return fmt.Errorf("%w: %w", ErrInvalidRefresh, latch.ErrSessionRevoked)
	}
	if _, err := s.revokeSession(ctx, sess.ID, latch.ReasonLogout); err != nil {
		return err
	}
	if !rec.SpentAt.IsZero() && s.opts.BlacklistAfterRotation {
		return fmt.Errorf("%w: %w", ErrInvalidRefresh, latch.ErrTokenSpent) // revoked all the same: it may be a thief's
	}
	if p.SessionID != "" && p.SessionID != sess.ID {
		if _, err := s.revokeSession(ctx, p.SessionID, latch.ReasonLogout); err != nil && !errors.Is(err, latch.ErrNotFound) {
			return err
		}
	}
	return nil
}

// EndSession revokes the caller's own session (logout in cookie mode,
// where the refresh cookie does not travel with the request).
func (s *Service) EndSession(ctx context.Context, p *Principal) error {
	if p.SessionID == "" {
		return s.revokeUser(ctx, p.UserID, "", latch.ReasonLogout) // a SimpleJWT token names no session
	}
	_, err := s.revokeSession(ctx, p.SessionID, latch.ReasonLogout)
	return err
}

// revokeUser bumps the user's token version (sparing keep) and revokes
// every other session, in the database and on every instance.
func (s *Service) revokeUser(ctx context.Context, userID int64, keep, reason string) error {
	v, err := s.opts.Users.BumpTokenVersion(ctx, userID, keep, s.opts.Now())
	if err != nil {
		return err
	}
	revoked, err := s.opts.Sessions.RevokeUserSessions(ctx, userID, keep, reason, s.opts.Now())
	if err != nil {
		return err
	}
	s.announceUser(ctx, v, revoked, keep)
	return nil
}

// announceUser tells every instance of a user's new token version and
// revoked sessions, and drops what the sessions cached.
func (s *Service) announceUser(ctx context.Context, v latch.TokenVersion, revoked []latch.Session, keep string) {
	s.announceVersion(ctx, v)
	for i := range revoked {
		s.announceSession(ctx, &revoked[i])
	}
	s.dropCache(ctx, keep) // a password change drops the kept session's values too
}

// LogoutAll revokes every session of the caller, the current one included.
func (s *Service) LogoutAll(ctx context.Context, p *Principal) error {
	return s.revokeUser(ctx, p.UserID, "", latch.ReasonLogoutAll)
}

// RevokeUser revokes every session of a user (latch revoke --user).
func (s *Service) RevokeUser(ctx context.Context, userID int64) error {
	if _, err := s.opts.Users.UserByID(ctx, userID); err != nil {
		return err
	}
	return s.revokeUser(ctx, userID, "", latch.ReasonAdmin)
}

// RevokeSession revokes one session by id (latch revoke --session).
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	_, err := s.revokeSession(ctx, id, latch.ReasonAdmin)
	return err
}

// Deactivate makes a user unable to log in, revokes all their sessions
// and kills their pending reset links.
func (s *Service) Deactivate(ctx context.Context, userID int64) error {
	if err := s.opts.Users.SetActive(ctx, userID, false); err != nil {
		return err
	}
	if err := s.dropResetLinks(ctx, userID); err != nil {
		return err
	}
	return s.revokeUser(ctx, userID, "", latch.ReasonDeactivated)
}

// Django's wording for password change.
const msgWrongPassword = "Your old password was entered incorrectly. Please enter it again."

// ChangePassword checks the old password, stores the new one and revokes
// every other session of the user; the caller's session stays valid.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, oldPW, newPW string) error {
	u, err := s.opts.Users.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	var ok bool
	var hashErr error
	if err := s.hash(ctx, func() { ok, _, hashErr = s.opts.Hasher.Verify(u.PasswordHash, oldPW) }); err != nil {
		return err
	}
	if hashErr != nil && !unusableHash(hashErr) {
		return fmt.Errorf("change password: %w: %w", latch.ErrUnavailable, hashErr)
	}
	if !ok {
		return &ValidationError{Fields: []FieldError{{Field: "old_password", Messages: []string{msgWrongPassword}}}}
	}
	if err := s.ValidatePassword("new_password", newPW, u); err != nil {
		return err
	}
	return s.SetPassword(ctx, u.ID, newPW, p.SessionID)
}

// ValidatePassword checks pw as a new password of u against the password
// rules (Django's validators, the minimum length), and returns a
// *ValidationError of field when it fails them.
func (s *Service) ValidatePassword(field, pw string, u *latch.User) error {
	verr := &ValidationError{}
	verr.add(field, password.Validate(pw, passwordAttributes(u), s.opts.MinPasswordLength)...)
	return verr.orNil()
}

// passwordAttributes are what u's password must not resemble.
func passwordAttributes(u *latch.User) password.UserAttributes {
	return password.UserAttributes{Username: u.Username, Email: u.Email}
}

// SetPassword stores a new password for a user without checking the old
// one (latch changepassword), revokes every session but keep and kills
// the user's pending reset links. An error means the password did not
// change: the stored hash, the token version, the sessions and the reset
// links change in one transaction (latch.UserStore.ChangePassword), so a
// retry with the old password works.
func (s *Service) SetPassword(ctx context.Context, userID int64, newPW, keep string) error {
	var h string
	var herr error
	if err := s.hash(ctx, func() { h, herr = s.opts.Hasher.Hash(newPW) }); err != nil {
		return err
	}
	if herr != nil {
		return fmt.Errorf("set password: %w: %w", latch.ErrUnavailable, herr)
	}
	return s.changePassword(ctx, latch.PasswordChange{UserID: userID, Hash: h, Keep: keep})
}

// changePassword makes the change c (at now), ending every token and
// session but c.Keep's, and tells every instance.
func (s *Service) changePassword(ctx context.Context, c latch.PasswordChange) error {
	c.Now = s.opts.Now()
	v, revoked, err := s.opts.Users.ChangePassword(ctx, c)
	if err != nil {
		return err
	}
	s.announceUser(ctx, v, revoked, c.Keep)
	return nil
}

// Sessions lists the caller's active sessions.
func (s *Service) Sessions(ctx context.Context, p *Principal) ([]latch.Session, error) {
	return s.activeSessions(ctx, p.UserID)
}

// activeSessions lists a user's sessions that are neither revoked, expired
// nor idle too long.
func (s *Service) activeSessions(ctx context.Context, userID int64) ([]latch.Session, error) {
	all, err := s.opts.Sessions.ActiveSessions(ctx, userID, s.opts.Now())
	if err != nil || s.opts.IdleTimeout <= 0 {
		return all, err
	}
	now := s.opts.Now()
	active := all[:0]
	for _, sess := range all {
		if now.Sub(sess.LastUsedAt) <= s.opts.IdleTimeout {
			active = append(active, sess)
		}
	}
	return active, nil
}

// RevokeOwnSession revokes one of the caller's sessions; another user's
// session id answers latch.ErrNotFound, never revealing it exists.
func (s *Service) RevokeOwnSession(ctx context.Context, p *Principal, id string) error {
	if !plausibleSessionID(id) {
		return fmt.Errorf("session %q: %w", id, latch.ErrNotFound)
	}
	sess, err := s.opts.Sessions.Session(ctx, id)
	if err != nil {
		return err
	}
	if sess.UserID != p.UserID || !sess.Active(s.opts.Now()) {
		return fmt.Errorf("session %s: %w", id, latch.ErrNotFound)
	}
	_, err = s.revokeSession(ctx, id, latch.ReasonLogout)
	return err
}
