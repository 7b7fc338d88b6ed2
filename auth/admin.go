package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/password"
)

// AdminRole returns the role that may use the admin API.
func (s *Service) AdminRole() string { return s.opts.AdminRole }

// Admin is the account management an administrator does (SPEC §10). Every
// method logs, at info level, the acting admin, the action and the
// target; never a password.
type Admin struct {
	s     *Service
	actor *latch.User
}

// Admin returns the caller's admin view, or latch.ErrPermissionDenied
// when the caller's role is not Options.AdminRole. The role is read from
// the store, not the token or a cache, so a demoted admin loses access on
// their very next request, on every instance.
func (s *Service) Admin(ctx context.Context, p *Principal) (*Admin, error) {
	u, err := s.opts.Users.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if u.Role != s.opts.AdminRole || !u.IsActive {
		return nil, fmt.Errorf("admin API for user %d: %w", u.ID, latch.ErrPermissionDenied)
	}
	return &Admin{s: s, actor: u}, nil
}

func (a *Admin) log(ctx context.Context, action string, attrs ...any) {
	a.s.opts.Logger.Log(ctx, slog.LevelInfo, "admin action",
		append([]any{"action", action, "admin_id", a.actor.ID, "admin", a.actor.Username}, attrs...)...)
}

// Users lists users as latch.UserStore.ListUsers does.
func (a *Admin) Users(ctx context.Context, q latch.UserQuery) ([]latch.User, int64, error) {
	a.log(ctx, "list_users", "search", q.Search, "offset", q.Offset)
	return a.s.opts.Users.ListUsers(ctx, q)
}

// User returns one user; latch.ErrNotFound.
func (a *Admin) User(ctx context.Context, id int64) (*latch.User, error) {
	a.log(ctx, "get_user", "target_id", id)
	return a.s.opts.Users.UserByID(ctx, id)
}

// CreateUser creates a user with the password rules of signup.
func (a *Admin) CreateUser(ctx context.Context, nu NewUser) (*latch.User, error) {
	u, err := a.s.CreateUser(ctx, nu)
	if err != nil {
		return nil, err
	}
	a.log(ctx, "create_user", "target_id", u.ID, "target", u.Username, "role", u.Role, "is_active", u.IsActive)
	return u, nil
}

// UserChange is an admin's change to a user: nil fields stay as they are.
type UserChange struct {
	Username, Email, Role *string
	IsActive              *bool
	// EmailVerified marks the email (the new one, when Email is set too)
	// verified or not; without it a new email is unverified.
	EmailVerified *bool
	Password      *string
}

// UpdateUser applies c to user id and returns the user as stored.
// Deactivating and setting a password each revoke every session of the
// user at once, on every instance (SPEC §5.3). Username, email and role
// changes leave sessions alone: every instance drops its copy of the user
// at once (announceUserChange), so latch's own checks (the admin API,
// forward auth's and the gateway's X-Latch-Role) see the new role on the
// next request, and the next refresh carries it in the tokens' claims, as
// they are read from the user at every refresh. A new email, a password
// and deactivation kill the user's pending reset links; a new email also
// their pending email keys.
// It returns *ValidationError for a bad value or a taken username or
// email, and latch.ErrNotFound.
func (a *Admin) UpdateUser(ctx context.Context, id int64, c UserChange) (*latch.User, error) {
	s := a.s
	u, err := s.opts.Users.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	verr := &ValidationError{}
	patch := latch.UserPatch{Email: c.Email, EmailVerified: c.EmailVerified}
	if c.Username != nil {
		name := NormalizeUsername(*c.Username)
		verr.add("username", validUsername(name)...)
		if name == "" {
			verr.add("username", msgBlank)
		}
		patch.Username = &name
	}
	if c.Email != nil {
		verr.add("email", validEmail(*c.Email)...)
	}
	if c.Role != nil {
		if *c.Role == "" {
			verr.add("role", msgBlank)
		}
		patch.Role = c.Role
	}
	if c.Password != nil {
		attrs := passwordAttributes(u)
		if patch.Username != nil {
			attrs.Username = *patch.Username
		}
		if c.Email != nil {
			attrs.Email = *c.Email
		}
		verr.add("password", password.Validate(*c.Password, attrs, s.opts.MinPasswordLength)...)
	}
	if err := verr.orNil(); err != nil {
		return nil, err
	}
	if patch != (latch.UserPatch{}) {
		if _, err := s.opts.Users.UpdateUser(ctx, id, patch); err != nil {
			return nil, takenFields(err)
		}
		s.announceUserChange(ctx, id)
	}
	if c.Email != nil && latch.EmailKey(*c.Email) != latch.EmailKey(u.Email) {
		// The admin's address wins: links mailed to the old one, and a
		// change the user had asked for, are void.
		if err := s.dropResetLinks(ctx, id); err != nil {
			return nil, err
		}
		if err := s.dropEmailKeys(ctx, id); err != nil {
			return nil, err
		}
	}
	revoke := ""
	switch {
	case c.IsActive != nil && !*c.IsActive:
		if err := s.Deactivate(ctx, id); err != nil {
			return nil, err
		}
		revoke = latch.ReasonDeactivated
	case c.IsActive != nil:
		if err := s.opts.Users.SetActive(ctx, id, true); err != nil {
			return nil, err
		}
		s.announceUserChange(ctx, id)
	}
	if c.Password != nil {
		if err := s.SetPassword(ctx, id, *c.Password, ""); err != nil {
			return nil, err
		}
		revoke = latch.ReasonPasswordChange
	}
	a.log(ctx, "update_user", "target_id", id, "fields", c.fields(), "sessions_revoked", revoke != "")
	return s.opts.Users.UserByID(ctx, id)
}

// fields names what c changes, for the log (never the values of a
// password).
func (c UserChange) fields() []string {
	var f []string
	for name, set := range map[string]bool{"username": c.Username != nil, "email": c.Email != nil, "role": c.Role != nil, "is_active": c.IsActive != nil, "email_verified": c.EmailVerified != nil, "password": c.Password != nil} {
		if set {
			f = append(f, name)
		}
	}
	slices.Sort(f)
	return f
}

// DeleteUser revokes every session of the user, on every instance, and
// then deletes the user; latch.ErrNotFound.
func (a *Admin) DeleteUser(ctx context.Context, id int64) error {
	if _, err := a.s.opts.Users.UserByID(ctx, id); err != nil {
		return err
	}
	if err := a.s.revokeUser(ctx, id, "", latch.ReasonAdmin); err != nil {
		return err
	}
	if err := a.s.opts.Users.DeleteUser(ctx, id); err != nil && !errors.Is(err, latch.ErrNotFound) {
		return err
	}
	a.s.announceUserChange(ctx, id)
	a.log(ctx, "delete_user", "target_id", id)
	return nil
}

// Sessions lists a user's active sessions; latch.ErrNotFound for no user.
func (a *Admin) Sessions(ctx context.Context, id int64) ([]latch.Session, error) {
	if _, err := a.s.opts.Users.UserByID(ctx, id); err != nil {
		return nil, err
	}
	a.log(ctx, "list_sessions", "target_id", id)
	return a.s.activeSessions(ctx, id)
}

// LogoutUser revokes every session of a user at once, on every instance.
func (a *Admin) LogoutUser(ctx context.Context, id int64) error {
	if err := a.s.RevokeUser(ctx, id); err != nil {
		return err
	}
	a.log(ctx, "logout_user", "target_id", id)
	return nil
}

// SetRole changes a user's role and revokes their sessions, so that no
// token keeps the old role (latch setrole).
func (s *Service) SetRole(ctx context.Context, id int64, role string) error {
	if role == "" {
		return &ValidationError{Fields: []FieldError{{Field: "role", Messages: []string{msgBlank}}}}
	}
	if _, err := s.opts.Users.UpdateUser(ctx, id, latch.UserPatch{Role: &role}); err != nil {
		return err
	}
	return s.revokeUser(ctx, id, "", latch.ReasonAdmin)
}
