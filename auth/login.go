package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/token"
)

// Login checks the credentials (login is a username, an address or
// either, as Options.LoginField says), opens a session and returns its
// first pair. Wrong password, unknown user and inactive user all return
// latch.ErrInvalidCredentials after the same hashing work. It returns
// password.ErrBusy when the hashing pool is full.
func (s *Service) Login(ctx context.Context, login, pw string, client Client) (*Pair, error) {
	u, err := s.authenticateUser(ctx, login, pw)
	if err != nil {
		return nil, err
	}
	return s.openSession(ctx, u, client)
}

// ThrottledError is returned by logins refused because the account has
// failed too often recently (from any IP): retry after After.
type ThrottledError struct{ After time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; retry in %v", e.After)
}

// LoginField is what a login's identifier is (SPEC §10, LATCH_LOGIN_FIELD).
type LoginField string

// The login fields.
const (
	// LoginUsername: the request's username field is a username (default).
	LoginUsername LoginField = "username"
	// LoginEmail: the request's email field is an email address.
	LoginEmail LoginField = "email"
	// LoginUsernameEmail: the request's username field is either; a value
	// holding "@" is looked up as an address first.
	LoginUsernameEmail LoginField = "username_email"
)

// ParseLoginField reads a LATCH_LOGIN_FIELD value; "" is LoginUsername.
func ParseLoginField(s string) (LoginField, error) {
	switch f := LoginField(s); f {
	case "":
		return LoginUsername, nil
	case LoginUsername, LoginEmail, LoginUsernameEmail:
		return f, nil
	}
	return "", fmt.Errorf("login field %q: want username, email or username_email", s)
}

// RequestField is the name of the request field that carries the login's
// identifier: email for LoginEmail, username otherwise.
func (f LoginField) RequestField() string {
	if f == LoginEmail {
		return "email"
	}
	return "username"
}

// LoginField returns the configured login field.
func (s *Service) LoginField() LoginField { return s.opts.LoginField }

// authenticateUser checks a login identifier (see LoginField) and
// password, behind the per-account guard against password guessing.
func (s *Service) authenticateUser(ctx context.Context, login, pw string) (*latch.User, error) {
	field := s.opts.LoginField.RequestField()
	// No stored username or address is longer or holds a NUL: refuse
	// before the guard or the store sees it (a NUL is an error on
	// PostgreSQL).
	verr := &ValidationError{}
	if s.opts.LoginField == LoginEmail {
		verr.add(field, emailLimits(login)...)
	} else {
		login = NormalizeUsername(login)
		verr.add(field, usernameLimits(login)...)
	}
	if err := verr.orNil(); err != nil {
		return nil, err
	}
	// One guard key per identifier as typed (letter case ignored): the
	// guard runs before any lookup, so that a refused login costs none.
	account := accountKey(login)
	if s.opts.Guard != nil {
		wait, err := s.opts.Guard.Wait(ctx, account)
		if err != nil {
			s.opts.Logger.Warn("failed-login guard unavailable", "err", err) // fail open: throttles still hold
		} else if wait > 0 {
			return nil, &ThrottledError{After: wait}
		}
	}
	u, err := s.checkPassword(ctx, login, pw)
	if err == nil && s.opts.Accounts.Verification == VerifyMandatory && !u.EmailVerified {
		// Told only to who knows the password, as allauth does.
		err = fmt.Errorf("login: %w", latch.ErrEmailNotVerified)
	}
	if s.opts.Guard != nil {
		var gerr error
		switch {
		case errors.Is(err, latch.ErrInvalidCredentials):
			gerr = s.opts.Guard.Fail(ctx, account) // unknown users too: no enumeration through the guard
		case err == nil, errors.Is(err, latch.ErrEmailNotVerified): // the password was right
			gerr = s.opts.Guard.Reset(ctx, account)
		}
		if gerr != nil {
			s.opts.Logger.Warn("failed-login guard", "err", gerr)
		}
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// findLogin looks up the user a login identifier names. Under
// LoginUsernameEmail an identifier with "@" is always looked up both ways
// (the address wins), so that which way it matched does not show in the
// time a login takes.
func (s *Service) findLogin(ctx context.Context, login string) (*latch.User, error) {
	switch s.opts.LoginField {
	case LoginEmail:
		return s.opts.Users.UserByEmail(ctx, login)
	case LoginUsernameEmail:
		if !strings.Contains(login, "@") {
			break
		}
		byEmail, err := s.opts.Users.UserByEmail(ctx, login)
		if err != nil && !errors.Is(err, latch.ErrNotFound) {
			return nil, err
		}
		byName, nerr := s.opts.Users.UserByUsername(ctx, login)
		if byEmail != nil {
			return byEmail, nil
		}
		return byName, nerr
	}
	return s.opts.Users.UserByUsername(ctx, login)
}

// checkPassword checks a login identifier and password.
func (s *Service) checkPassword(ctx context.Context, login, pw string) (*latch.User, error) {
	// The lookup runs inside the hashing pool: a login refused because the
	// pool is full then costs no database query, which keeps a login flood
	// cheap to shed.
	var u *latch.User
	var lookupErr, verifyErr, hashErr error
	var ok, rehash bool
	if err := s.hash(ctx, func() {
		u, lookupErr = s.findLogin(ctx, login)
		if lookupErr != nil && !errors.Is(lookupErr, latch.ErrNotFound) {
			return
		}
		if u == nil {
			hashErr = s.opts.Hasher.Dummy(pw) // as long as a wrong password: no enumeration by timing
			return
		}
		ok, rehash, verifyErr = s.opts.Hasher.Verify(u.PasswordHash, pw)
		if verifyErr != nil && !unusableHash(verifyErr) {
			hashErr, verifyErr = verifyErr, nil
			return
		}
		if !ok && (verifyErr != nil || u.PasswordHash == "" || strings.HasPrefix(u.PasswordHash, "!")) {
			// An unusable or unverifiable hash fails at once: spend the
			// work anyway, or timing would tell such accounts apart.
			hashErr = s.opts.Hasher.Dummy(pw)
		}
	}); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if lookupErr != nil && !errors.Is(lookupErr, latch.ErrNotFound) {
		return nil, fmt.Errorf("login: %w", lookupErr)
	}
	if hashErr != nil {
		// Never a 401: the password was not checked.
		return nil, fmt.Errorf("login: %w: %w", latch.ErrUnavailable, hashErr)
	}
	if verifyErr != nil {
		s.opts.Logger.Warn("stored password hash unusable", "user", u.ID, "err", verifyErr)
	}
	if u == nil || !ok || !u.IsActive {
		return nil, latch.ErrInvalidCredentials
	}
	if rehash {
		s.upgradeHash(ctx, u, pw)
	}
	if s.opts.UpdateLastLogin {
		if err := s.opts.Users.SetLastLogin(ctx, u.ID, s.opts.Now()); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
	}
	return u, nil
}

// unusableHash reports whether err from Verify is about the stored hash
// (a scheme or parameters latch cannot verify) rather than a failure to
// hash at all.
func unusableHash(err error) bool {
	return errors.Is(err, password.ErrUnknownScheme) || errors.Is(err, password.ErrMalformed)
}

// upgradeHash replaces an imported or outdated hash; a failure is logged,
// never fatal to the login.
func (s *Service) upgradeHash(ctx context.Context, u *latch.User, pw string) {
	var h string
	var err error
	if perr := s.hash(ctx, func() { h, err = s.opts.Hasher.Hash(pw) }); perr != nil {
		return // busy: upgrade on a later login
	}
	if err == nil {
		err = s.opts.Users.SetPasswordHash(ctx, u.ID, h)
	}
	if err != nil {
		s.opts.Logger.Warn("upgrade password hash", "user", u.ID, "err", err)
	}
}

// openSession creates a session for u and returns its first pair.
func (s *Service) openSession(ctx context.Context, u *latch.User, client Client) (*Pair, error) {
	now := s.opts.Now()
	sess := s.newSession(u, client, now)
	jti := token.NewID()
	rexp := earliest(now.Add(s.opts.RefreshLifetime), sess.ExpiresAt)
	c := s.claimsFor(u, sess.ID, token.Refresh, jti, now, rexp)
	refresh, err := s.sign(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	access, err := s.accessLike(ctx, c, sess, token.NewID(), now)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	rec := &latch.RefreshToken{Hash: hashJTI(jti), SessionID: sess.ID, IssuedAt: now, ExpiresAt: rexp}
	if err := s.opts.Sessions.CreateSession(ctx, sess, rec); err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return &Pair{Access: access, Refresh: refresh}, nil
}

func (s *Service) newSession(u *latch.User, client Client, now time.Time) *latch.Session {
	return &latch.Session{
		ID:         newSessionID(),
		UserID:     u.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.opts.SessionLifetime),
		UserAgent:  truncate(client.UserAgent, 512),
		IP:         client.IP,
	}
}

func newSessionID() string { return rand.Text() }

// plausibleSessionID reports whether id could name a session: databases
// refuse NUL and bytes that are not UTF-8 in text, and such an id names
// none anyway.
func plausibleSessionID(id string) bool {
	return id != "" && len(id) <= 128 && utf8.ValidString(id) && strings.IndexByte(id, 0) < 0
}

// truncate makes a client-sent header storable: valid UTF-8 (bad bytes
// replaced), no NUL, at most n bytes, cut on a character boundary.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// NormalizeUsername is Django's normalize_username: NFKC, so that
// look-alike forms ("ａｌｉｃｅ" in fullwidth) are one account. Signup and
// login both apply it.
func NormalizeUsername(name string) string { return norm.NFKC.String(name) }

// accountKey is the failed-login guard's key of a username: a fixed-size
// digest, so that no client-chosen string is kept in memory or Redis.
func accountKey(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(username)))
	return hex.EncodeToString(sum[:])
}

// FieldError is one field's problems, in DRF's wording.
type FieldError struct {
	Field    string
	Messages []string
}

// ValidationError lists field problems; the HTTP layer answers 400 with
// DRF's {"field": ["message", ...]} body.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + strings.Join(f.Messages, " ")
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(field string, msgs ...string) {
	if len(msgs) > 0 {
		e.Fields = append(e.Fields, FieldError{Field: field, Messages: msgs})
	}
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Django's username rules and messages.
const (
	msgUsernameTaken   = "A user with that username already exists."
	msgUsernameInvalid = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
	msgUsernameLong    = "Ensure this field has no more than 150 characters."
	msgEmailInvalid    = "Enter a valid email address."
	msgEmailLong       = "Ensure this field has no more than 254 characters."
	// dj-rest-auth's RegisterSerializer.validate_email.
	msgEmailTaken = "A user is already registered with this e-mail address."
	msgNullChars  = "Null characters are not allowed."
	msgRequired   = "This field is required."
	msgBlank      = "This field may not be blank."
)

// maxUsername is Django's max_length of User.username.
const maxUsername = 150

// usernameLimits are the checks a username passes before any lookup.
func usernameLimits(name string) []string {
	if utf8.RuneCountInString(name) > maxUsername {
		return []string{msgUsernameLong}
	}
	if strings.IndexByte(name, 0) >= 0 {
		return []string{msgNullChars}
	}
	return nil
}

// maxEmail is Django's max_length of an EmailField (RFC 5321's limit).
const maxEmail = 254

// emailLimits are the checks an address passes before any lookup.
func emailLimits(email string) []string {
	if utf8.RuneCountInString(email) > maxEmail {
		return []string{msgEmailLong}
	}
	if strings.IndexByte(email, 0) >= 0 {
		return []string{msgNullChars}
	}
	return nil
}

func validUsername(name string) []string {
	if msgs := usernameLimits(name); msgs != nil {
		return msgs
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@.+-_", r)) {
			return []string{msgUsernameInvalid}
		}
	}
	return nil
}

func validEmail(email string) []string {
	if msgs := emailLimits(email); msgs != nil {
		return msgs
	}
	at := strings.LastIndexByte(email, '@')
	if email == "" || (at > 0 && at < len(email)-1 && !strings.ContainsAny(email, " \t\r\n") && strings.Contains(email[at:], ".")) {
		return nil
	}
	return []string{msgEmailInvalid}
}

// Signup creates an active user with the default role. It returns
// *ValidationError for a taken or invalid username, a weak password, a bad
// or taken email, or no email under LoginEmail.
func (s *Service) Signup(ctx context.Context, username, pw, email string) (*latch.User, error) {
	if email == "" && (s.opts.LoginField == LoginEmail || s.opts.Accounts.Verification == VerifyMandatory) {
		// The address is then the only way to log in, or the way to be
		// allowed to.
		return nil, &ValidationError{Fields: []FieldError{{Field: "email", Messages: []string{msgRequired}}}}
	}
	return s.CreateUser(ctx, NewUser{Username: username, Password: pw, Email: email})
}

// NewUser is an account to create.
type NewUser struct {
	Username, Password string
	Email              string // optional; unique when given
	Role               string // default Options.DefaultRole
	// Inactive creates the user unable to log in.
	Inactive bool
	// EmailVerified marks Email verified from the start: whoever creates
	// the user (an operator, an admin) vouches for the address, so no
	// verification mail is needed under LATCH_EMAIL_VERIFICATION.
	EmailVerified bool
}

// CreateUser is Signup with a chosen role (latch createuser, the admin
// API). Under VerifyMandatory it requires an email, as Signup does: login
// waits for a verified address, so a user without one could never log in.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (*latch.User, error) {
	username, pw, email, role := NormalizeUsername(nu.Username), nu.Password, nu.Email, nu.Role
	if role == "" {
		role = s.opts.DefaultRole
	}
	usernameErrs, pwErrs, emailErrs := validUsername(username), password.Validate(pw, password.UserAttributes{Username: username, Email: email}, s.opts.MinPasswordLength), validEmail(email)
	if email == "" && s.opts.Accounts.Verification == VerifyMandatory {
		emailErrs = append([]string{msgRequired}, emailErrs...)
	}
	if len(usernameErrs)+len(pwErrs)+len(emailErrs) > 0 {
		// DRF reports every field at once: a taken username beside a weak
		// password, not one after the other. Only now is it looked up;
		// otherwise the insert finds it.
		if len(usernameErrs) == 0 {
			if _, err := s.opts.Users.UserByUsername(ctx, username); err == nil {
				usernameErrs = []string{msgUsernameTaken}
			}
		}
		if email != "" && len(emailErrs) == 0 {
			if _, err := s.opts.Users.UserByEmail(ctx, email); err == nil {
				emailErrs = []string{msgEmailTaken}
			}
		}
	}
	verr := &ValidationError{}
	verr.add("username", usernameErrs...)
	verr.add("password", pwErrs...)
	verr.add("email", emailErrs...)
	if err := verr.orNil(); err != nil {
		return nil, err
	}
	var h string
	var herr error
	if err := s.hash(ctx, func() { h, herr = s.opts.Hasher.Hash(pw) }); err != nil {
		return nil, fmt.Errorf("signup: %w", err)
	}
	if herr != nil {
		return nil, fmt.Errorf("signup: %w: %w", latch.ErrUnavailable, herr)
	}
	u := &latch.User{Username: username, Email: email, EmailVerified: nu.EmailVerified && email != "", PasswordHash: h, Role: role, IsActive: !nu.Inactive, CreatedAt: s.opts.Now()}
	if err := s.opts.Users.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("signup: %w", takenFields(err))
	}
	s.users.forget(u.ID) // in case its id was remembered as no user's
	return u, nil
}

// takenFields turns a store's uniqueness errors into the field errors
// Django and dj-rest-auth answer with; other errors pass unchanged.
func takenFields(err error) error {
	switch {
	case errors.Is(err, latch.ErrUsernameTaken):
		return &ValidationError{Fields: []FieldError{{Field: "username", Messages: []string{msgUsernameTaken}}}}
	case errors.Is(err, latch.ErrEmailTaken):
		return &ValidationError{Fields: []FieldError{{Field: "email", Messages: []string{msgEmailTaken}}}}
	}
	return err
}
