package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/mail"
	"github.com/latch-auth/latch/password"
)

// Mailer queues account mail; *mail.Mailer is one.
type Mailer interface {
	Send(ctx context.Context, k mail.Kind, to string, d mail.Data) error
}

// EmailVerification is LATCH_EMAIL_VERIFICATION: whether signup sends a
// verification mail, and whether login waits for it (allauth's
// ACCOUNT_EMAIL_VERIFICATION).
type EmailVerification string

// The verification modes.
const (
	VerifyNone      EmailVerification = "none"
	VerifyOptional  EmailVerification = "optional"
	VerifyMandatory EmailVerification = "mandatory"
)

// ParseEmailVerification reads a LATCH_EMAIL_VERIFICATION value; "" is none.
func ParseEmailVerification(s string) (EmailVerification, error) {
	switch v := EmailVerification(s); v {
	case "":
		return VerifyNone, nil
	case VerifyNone, VerifyOptional, VerifyMandatory:
		return v, nil
	}
	return "", fmt.Errorf("email verification %q: want none, optional or mandatory", s)
}

// AccountOptions configure the account flows (SPEC §10) of a Service.
type AccountOptions struct {
	// Mailer queues the messages; required for the flows that mail.
	Mailer Mailer
	// Tokens keeps reset tokens and verification keys; required with
	// Mailer. It is the Users store itself, the same value (New refuses a
	// wrapper around either): a password change spends the reset link and
	// ends the others in its own transaction (latch.UserStore.ChangePassword).
	Tokens latch.AccountTokenStore
	// ResetTimeout is how long a reset link works; default 1h.
	ResetTimeout time.Duration
	// ResetURL is the reset link, {uid} and {token} replaced; a path
	// ("/reset/{uid}/{token}/", the default) is resolved against the base
	// URL each request passes.
	ResetURL string
	// VerifyTimeout is how long a verification link works; default 3 days
	// (allauth's EMAIL_CONFIRMATION_EXPIRE_DAYS).
	VerifyTimeout time.Duration
	// VerifyURL is the verification link, {key} replaced; default
	// "/verify-email/{key}/", resolved as ResetURL.
	VerifyURL    string
	Verification EmailVerification
}

func (o *AccountOptions) defaults() error {
	if o.ResetTimeout <= 0 {
		o.ResetTimeout = time.Hour
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 3 * 24 * time.Hour
	}
	if o.ResetURL == "" {
		o.ResetURL = "/reset/{uid}/{token}/"
	}
	if o.VerifyURL == "" {
		o.VerifyURL = "/verify-email/{key}/"
	}
	if !strings.Contains(o.ResetURL, "{uid}") || !strings.Contains(o.ResetURL, "{token}") {
		return errors.New("password reset URL must contain {uid} and {token}")
	}
	if !strings.Contains(o.VerifyURL, "{key}") {
		return errors.New("email verification URL must contain {key}")
	}
	var err error
	o.Verification, err = ParseEmailVerification(string(o.Verification))
	if o.Mailer != nil && o.Tokens == nil {
		return errors.New("account flows need a token store with the mailer")
	}
	return err
}

// Messages of dj-rest-auth and Django's SetPasswordForm, as they answer.
const (
	msgInvalidValue     = "Invalid value"
	msgPasswordMismatch = "The two password fields didn’t match." // U+2019, as Django writes it
)

// Verification returns the configured email verification mode.
func (s *Service) Verification() EmailVerification { return s.opts.Accounts.Verification }

// EncodeUID is Django's urlsafe_base64_encode(force_bytes(id)): the
// decimal id in unpadded URL-safe base64, the uid of a reset link.
func EncodeUID(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// DecodeUID reads a uid of EncodeUID's form (Django's decoder also
// accepts padding); ok is false for anything that names no possible user.
func DecodeUID(uid string) (id int64, ok bool) {
	if len(uid) > 32 {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(uid, "="))
	if err != nil || len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	id, err = strconv.ParseInt(string(b), 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// newAccountSecret returns a random single-use secret and the hash it is
// stored under.
func newAccountSecret() (secret, hash string) {
	secret = rand.Text() + rand.Text() // 256 bits
	return secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// link fills a URL template and resolves a path against base (scheme and
// host, no trailing slash).
func link(tmpl, base string, values ...string) string {
	out := strings.NewReplacer(values...).Replace(tmpl)
	if strings.HasPrefix(out, "/") {
		out = strings.TrimRight(base, "/") + out
	}
	return out
}

// humanDuration says d for a mail's reader: "1 hour", "3 days", "30 minutes".
func humanDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return strconv.FormatInt(n, 10) + " " + name + "s"
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(int64(d/time.Second), "second")
}

// accountsReady reports whether the flows that mail can run.
func (s *Service) accountsReady() error {
	if s.opts.Accounts.Mailer == nil {
		return errors.New("auth: account mail is not configured (Options.Accounts.Mailer)")
	}
	return nil
}

// requestEmail checks the email field of a reset or resend request as
// DRF's EmailField does.
func requestEmail(email string) error {
	verr := &ValidationError{}
	if email == "" {
		verr.add("email", msgBlank)
	} else {
		verr.add("email", validEmail(email)...)
	}
	return verr.orNil()
}

// RequestPasswordReset mails a reset link to the active user with that
// address, if there is one. Whether there is does not show: the answer
// is the same, and the work that depends on it (storing the token,
// rendering and queueing the mail) runs after the call returns. base is
// the scheme and host links are resolved against.
func (s *Service) RequestPasswordReset(ctx context.Context, email, base string) error {
	if err := requestEmail(email); err != nil {
		return err
	}
	if err := s.accountsReady(); err != nil {
		return err
	}
	if err := s.guardAccount(ctx, "reset", email); err != nil {
		return err
	}
	u, err := s.opts.Users.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, latch.ErrNotFound) {
		return fmt.Errorf("password reset: %w", err)
	}
	secret, hash := newAccountSecret()
	if u == nil || !u.IsActive || u.PasswordHash == "" {
		return nil
	}
	s.background(ctx, "password reset mail", u.ID, func(ctx context.Context) error {
		now := s.opts.Now()
		t := &latch.AccountToken{Hash: hash, Kind: latch.AccountTokenPasswordReset, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.opts.Accounts.ResetTimeout)}
		if err := s.opts.Accounts.Tokens.PutAccountToken(ctx, t); err != nil {
			return err
		}
		return s.opts.Accounts.Mailer.Send(ctx, mail.PasswordReset, u.Email, mail.Data{
			Username: u.Username, Email: u.Email, Expires: humanDuration(s.opts.Accounts.ResetTimeout),
			Link: link(s.opts.Accounts.ResetURL, base, "{uid}", EncodeUID(u.ID), "{token}", secret),
		})
	})
	return nil
}

// guardAccount counts a mail request against the address, in the
// failed-login guard's manner: a few are free, then they back off, from
// any IP. The key is hashed, so no client string is kept.
func (s *Service) guardAccount(ctx context.Context, purpose, email string) error {
	if s.opts.Guard == nil {
		return nil
	}
	key := accountKey(purpose + "\x00" + latch.EmailKey(email))
	wait, err := s.opts.Guard.Wait(ctx, key)
	if err != nil {
		s.opts.Logger.Warn("mail request guard unavailable", "err", err) // fail open: the throttles still hold
		return nil
	}
	if wait > 0 {
		return &ThrottledError{After: wait}
	}
	if err := s.opts.Guard.Fail(ctx, key); err != nil {
		s.opts.Logger.Warn("mail request guard", "err", err)
	}
	return nil
}

// background runs fn after the request, with the request's values but not
// its cancellation; a failure is logged (never with the secret: fn's
// error is a store's or the mailer's). Drain waits for it.
func (s *Service) background(ctx context.Context, what string, userID int64, fn func(ctx context.Context) error) {
	ctx = context.WithoutCancel(ctx)
	s.pending.Go(func() {
		// Not at once: the work would compete for the CPU and the database
		// with this very response, and its time would tell that the
		// address exists. After a random pause it lands on some later
		// request, whichever address that one names.
		time.Sleep(10*time.Millisecond + mathrand.N(90*time.Millisecond))
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			s.opts.Logger.Error(what+" not queued", "user", userID, "err", err)
		}
	})
}

// Drain waits for the mail work that requests left running; call it
// before closing the stores.
func (s *Service) Drain() { s.pending.Wait() }

// ResetConfirmation is a POST /api/password/reset/confirm/.
type ResetConfirmation struct {
	UID, Token                 string
	NewPassword1, NewPassword2 string
}

// ConfirmPasswordReset sets a new password with a reset token, spends the
// token (and every other reset token of the user) and revokes every
// session of the user. Its checks come in the order of dj-rest-auth's
// PasswordResetConfirmSerializer.validate: the uid, then the token (only
// looked at, not spent), then the passwords (Django's SetPasswordForm), so
// a dead link says so whatever passwords come with it.
func (s *Service) ConfirmPasswordReset(ctx context.Context, c ResetConfirmation) error {
	u, hash, err := s.resetLink(ctx, c.UID, c.Token)
	if err != nil {
		return err
	}
	if c.NewPassword1 != c.NewPassword2 {
		return &ValidationError{Fields: []FieldError{{Field: "new_password2", Messages: []string{msgPasswordMismatch}}}}
	}
	verr := &ValidationError{}
	verr.add("new_password2", password.Validate(c.NewPassword2, passwordAttributes(u), s.opts.MinPasswordLength)...)
	if err := verr.orNil(); err != nil {
		return err
	}
	var h string
	var herr error
	if err := s.hash(ctx, func() { h, herr = s.opts.Hasher.Hash(c.NewPassword2) }); err != nil {
		return err
	}
	if herr != nil {
		return fmt.Errorf("password reset: %w: %w", latch.ErrUnavailable, herr)
	}
	// The link is spent in the change's own transaction: of concurrent
	// confirmations with it, one changes the password; a change that
	// fails leaves the link as it was, for a retry. No session is kept:
	// whoever knew the old password is out.
	err = s.changePassword(ctx, latch.PasswordChange{UserID: u.ID, Hash: h, ResetToken: hash})
	switch {
	case errors.Is(err, latch.ErrNotFound):
		return invalidField("token")
	case err != nil:
		return fmt.Errorf("password reset: %w", err)
	}
	return nil
}

// CheckPasswordReset reports whether a reset link (uid and token) would
// be accepted now, without spending it: the reset page asks before it
// shows its form, as Django's PasswordResetConfirmView does. Its errors
// are ConfirmPasswordReset's for the uid and the token.
func (s *Service) CheckPasswordReset(ctx context.Context, uid, token string) error {
	_, _, err := s.resetLink(ctx, uid, token)
	return err
}

// invalidField is dj-rest-auth's answer to a bad uid or token.
func invalidField(field string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Messages: []string{msgInvalidValue}}}}
}

// resetLink finds the user a reset link names and the hash of its live
// token, without spending it.
func (s *Service) resetLink(ctx context.Context, uid, token string) (*latch.User, string, error) {
	if err := s.accountsReady(); err != nil {
		return nil, "", err
	}
	id, ok := DecodeUID(uid)
	if !ok {
		return nil, "", invalidField("uid")
	}
	u, err := s.opts.Users.UserByID(ctx, id)
	if errors.Is(err, latch.ErrNotFound) {
		return nil, "", invalidField("uid")
	}
	if err != nil {
		return nil, "", fmt.Errorf("password reset: %w", err)
	}
	if !plausibleSecret(token) {
		return nil, "", invalidField("token")
	}
	hash := hashSecret(token)
	// Looked at, not taken: a wrong token must not cost a hash, and a
	// right one is spent only once the new password is ready to store.
	t, err := s.opts.Accounts.Tokens.AccountToken(ctx, latch.AccountTokenPasswordReset, hash, s.opts.Now())
	if errors.Is(err, latch.ErrNotFound) || (err == nil && t.UserID != u.ID) {
		return nil, "", invalidField("token")
	}
	if err != nil {
		return nil, "", fmt.Errorf("password reset: %w", err)
	}
	return u, hash, nil
}

// plausibleSecret reports whether s could be a token latch mailed: the
// store is not asked about anything longer, or holding a NUL.
func plausibleSecret(s string) bool {
	return s != "" && len(s) <= 128 && strings.IndexByte(s, 0) < 0
}

// SendVerification mails u a key that verifies their current address
// (after signup, or on request). It does nothing for a user without an
// address or with a verified one, or when verification is off.
func (s *Service) SendVerification(ctx context.Context, u *latch.User, base string) error {
	if s.opts.Accounts.Verification == VerifyNone || u.Email == "" || u.EmailVerified {
		return nil
	}
	if err := s.accountsReady(); err != nil {
		return err
	}
	return s.sendEmailKey(ctx, u, u.Email, mail.EmailVerification, base)
}

// sendEmailKey mails a key for email to u, and makes it the only one of
// u's that works: an older key, mailed to an address the user has since
// changed their mind about, must not be able to make that address theirs.
func (s *Service) sendEmailKey(ctx context.Context, u *latch.User, email string, kind mail.Kind, base string) error {
	secret, hash := newAccountSecret()
	now := s.opts.Now()
	t := &latch.AccountToken{Hash: hash, Kind: latch.AccountTokenEmail, UserID: u.ID, Email: email, CreatedAt: now, ExpiresAt: now.Add(s.opts.Accounts.VerifyTimeout)}
	if err := s.opts.Accounts.Tokens.PutAccountToken(ctx, t); err != nil {
		return fmt.Errorf("email key: %w", err)
	}
	// Stored first, then the others deleted: of two keys sent at once,
	// neither survives the other's deletion rather than both.
	if err := s.opts.Accounts.Tokens.DeleteAccountTokens(ctx, u.ID, latch.AccountTokenEmail, hash); err != nil {
		return fmt.Errorf("email key: %w", err)
	}
	if err := s.opts.Accounts.Mailer.Send(ctx, kind, email, mail.Data{
		Username: u.Username, Email: email, Expires: humanDuration(s.opts.Accounts.VerifyTimeout),
		Link: link(s.opts.Accounts.VerifyURL, base, "{key}", secret),
	}); err != nil {
		return fmt.Errorf("email key: %w", err)
	}
	return nil
}

// ResendVerification mails a new verification key to the user with that
// address when they have not verified it; the answer is the same either
// way, and the work runs after the call returns.
func (s *Service) ResendVerification(ctx context.Context, email, base string) error {
	if err := requestEmail(email); err != nil {
		return err
	}
	if err := s.accountsReady(); err != nil {
		return err
	}
	if err := s.guardAccount(ctx, "verify", email); err != nil {
		return err
	}
	u, err := s.opts.Users.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, latch.ErrNotFound) {
		return fmt.Errorf("resend verification: %w", err)
	}
	if u == nil || !u.IsActive {
		return nil
	}
	s.background(ctx, "verification mail", u.ID, func(ctx context.Context) error { return s.SendVerification(ctx, u, base) })
	return nil
}

// VerifyEmail spends a key from a verification or change mail: the
// address it was sent to becomes the user's, verified. Only the key of
// the user's latest mail works (sendEmailKey deletes the others). An
// unknown, spent, expired or superseded key is latch.ErrNotFound
// (allauth's 404). A change of address kills the user's reset links.
func (s *Service) VerifyEmail(ctx context.Context, key string) error {
	if err := s.accountsReady(); err != nil {
		return err
	}
	if !plausibleSecret(key) {
		return fmt.Errorf("verify email: %w", latch.ErrNotFound)
	}
	t, err := s.opts.Accounts.Tokens.TakeAccountToken(ctx, latch.AccountTokenEmail, hashSecret(key), s.opts.Now())
	if err != nil {
		return fmt.Errorf("verify email: %w", err)
	}
	u, err := s.opts.Users.UserByID(ctx, t.UserID)
	if err != nil {
		return fmt.Errorf("verify email: %w", err)
	}
	defer s.announceUserChange(ctx, u.ID)
	if latch.EmailKey(u.Email) == latch.EmailKey(t.Email) {
		return s.opts.Users.SetEmailVerified(ctx, u.ID, true)
	}
	verified := true
	if _, err := s.opts.Users.UpdateUser(ctx, u.ID, latch.UserPatch{Email: &t.Email, EmailVerified: &verified}); err != nil {
		return fmt.Errorf("verify email: %w", takenFields(err))
	}
	return s.dropResetLinks(ctx, u.ID)
}

// dropResetLinks deletes the user's pending password reset tokens, as
// Django's token generator invalidates its links when the password or
// the account changes: a link mailed before a password change, an
// address change or a deactivation must not undo it.
func (s *Service) dropResetLinks(ctx context.Context, userID int64) error {
	if s.opts.Accounts.Tokens == nil {
		return nil
	}
	if err := s.opts.Accounts.Tokens.DeleteAccountTokens(ctx, userID, latch.AccountTokenPasswordReset, ""); err != nil {
		return fmt.Errorf("delete reset links of user %d: %w", userID, err)
	}
	return nil
}

// dropEmailKeys deletes the user's pending verification and change keys:
// an address set without one (by an admin, or removed by the user)
// overrides any change still waiting for its confirmation.
func (s *Service) dropEmailKeys(ctx context.Context, userID int64) error {
	if s.opts.Accounts.Tokens == nil {
		return nil
	}
	if err := s.opts.Accounts.Tokens.DeleteAccountTokens(ctx, userID, latch.AccountTokenEmail, ""); err != nil {
		return fmt.Errorf("delete email keys of user %d: %w", userID, err)
	}
	return nil
}

// ProfileChange is a PATCH /api/me/: nil fields stay as they are.
type ProfileChange struct {
	Username *string
	Email    *string
}

// UpdateProfile changes the caller's username at once; a new email
// address is only mailed a confirmation key, and becomes the user's when
// the key is used (VerifyEmail): until then the old address stays.
// It returns the user as stored.
func (s *Service) UpdateProfile(ctx context.Context, p *Principal, c ProfileChange, base string) (*latch.User, error) {
	u, err := s.opts.Users.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	verr := &ValidationError{}
	var patch latch.UserPatch
	if c.Username != nil {
		name := NormalizeUsername(*c.Username)
		msgs := validUsername(name)
		if name == "" {
			msgs = []string{msgBlank}
		}
		verr.add("username", msgs...)
		if name != u.Username {
			patch.Username = &name
		}
	}
	newEmail := ""
	if c.Email != nil && latch.EmailKey(*c.Email) != latch.EmailKey(u.Email) {
		newEmail = *c.Email
		msgs := validEmail(newEmail)
		if newEmail == "" && (s.opts.LoginField == LoginEmail || s.opts.Accounts.Verification == VerifyMandatory) {
			msgs = []string{msgBlank}
		}
		verr.add("email", msgs...)
	}
	if err := verr.orNil(); err != nil {
		return nil, err
	}
	if c.Email != nil && *c.Email == "" && newEmail == "" && u.Email != "" {
		patch.Email = c.Email // removing the address needs no confirmation
	}
	if newEmail != "" {
		if err := s.accountsReady(); err != nil {
			return nil, err
		}
		other, err := s.opts.Users.UserByEmail(ctx, newEmail)
		if err == nil && other.ID != u.ID {
			return nil, takenFields(latch.ErrEmailTaken)
		}
		if err != nil && !errors.Is(err, latch.ErrNotFound) {
			return nil, err
		}
	}
	if patch.Username != nil || patch.Email != nil {
		if u, err = s.opts.Users.UpdateUser(ctx, u.ID, patch); err != nil {
			return nil, takenFields(err)
		}
		s.announceUserChange(ctx, u.ID)
	}
	if patch.Email != nil { // the address is gone: so are links mailed to it
		if err := s.dropResetLinks(ctx, u.ID); err != nil {
			return nil, err
		}
		if err := s.dropEmailKeys(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	if newEmail != "" {
		if err := s.sendEmailKey(ctx, u, newEmail, mail.EmailChange, base); err != nil {
			return nil, err
		}
	}
	return u, nil
}
