package latch

import (
	"context"
	"time"
)

// User is an account that can log in.
type User struct {
	ID       int64
	Username string // unique, compared case-insensitively
	// Email is unique under EmailKey (letter case ignored) when not empty.
	Email string
	// EmailVerified reports that the user proved they receive Email's mail;
	// changing the address clears it.
	EmailVerified bool
	PasswordHash  string // PHC string (argon2id) or an imported Django hash
	Role          string
	IsActive      bool
	// TokenVersion is bumped by password change, deactivation and
	// logout-all; tokens carrying an older version are refused, except
	// those of VersionKeepSession (the session that changed the password)
	// carrying VersionKeepFrom or later.
	TokenVersion       int64
	VersionKeepSession string
	VersionKeepFrom    int64
	LastLogin          time.Time // zero when never logged in
	CreatedAt          time.Time
}

// Session is a token family: every refresh and access token names it in
// the sid claim, and revoking it revokes them all.
type Session struct {
	ID         string
	UserID     int64
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is the absolute end of the session; rotation never extends it.
	ExpiresAt    time.Time
	UserAgent    string
	IP           string
	RevokedAt    time.Time // zero while active
	RevokeReason string
}

// Active reports whether the session is neither revoked nor expired at now.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// RefreshToken is what the store knows of one refresh token. The token
// itself is never stored: Hash identifies it (SHA-256 of its jti, hex).
// A session keeps its current token and the one that token replaced; of
// the older tokens of its family the store knows only that they were
// replaced, at the latest when the current one's predecessor was (SpentAt,
// with zero IssuedAt and ExpiresAt and no Successor).
type RefreshToken struct {
	Hash      string
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	SpentAt   time.Time // zero until rotated away
	// Successor describes the token that replaced this one, so that a
	// duplicate refresh inside the grace interval gets the same successor.
	Successor *Successor
}

// Family is what a session keeps of its refresh tokens: the current one
// and the one it replaced. Every other token of the session is spent.
type Family struct {
	SessionID string
	// Current is the session's newest token (Hash, IssuedAt, ExpiresAt);
	// CurrentJTI its jti when a rotation made it, so that a duplicate of
	// the rotation within the grace interval gets the same token.
	Current    RefreshToken
	CurrentJTI string
	// Replaced is the token Current replaced (Hash, IssuedAt, ExpiresAt,
	// SpentAt); Hash is empty before the first rotation.
	Replaced RefreshToken
}

// Token returns what f says of the refresh token with hash: the current
// token; the one it replaced, spent, with the current one as its
// successor; or an older one, spent when the replaced one was at the
// latest (or, before any rotation, when the current one was issued).
func (f *Family) Token(hash string) *RefreshToken {
	switch {
	case hash == f.Current.Hash:
		return &RefreshToken{Hash: hash, SessionID: f.SessionID, IssuedAt: f.Current.IssuedAt, ExpiresAt: f.Current.ExpiresAt}
	case hash == f.Replaced.Hash && hash != "":
		return &RefreshToken{
			Hash: hash, SessionID: f.SessionID, IssuedAt: f.Replaced.IssuedAt, ExpiresAt: f.Replaced.ExpiresAt,
			SpentAt:   f.Replaced.SpentAt,
			Successor: &Successor{JTI: f.CurrentJTI, IssuedAt: f.Current.IssuedAt, ExpiresAt: f.Current.ExpiresAt},
		}
	}
	spent := f.Replaced.SpentAt
	if spent.IsZero() {
		spent = f.Current.IssuedAt
	}
	return &RefreshToken{Hash: hash, SessionID: f.SessionID, SpentAt: spent}
}

// Successor identifies the refresh token issued when a token was rotated.
type Successor struct {
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// TokenVersion is a user's current token version. A token of the user is
// valid when its ver claim is at least Version, or when it belongs to
// KeepSession and carries KeepFrom or later: the session that changed the
// password survives any number of changes it makes, whichever version its
// current access token was issued at.
type TokenVersion struct {
	UserID      int64
	Version     int64
	KeepSession string
	KeepFrom    int64
}

// Allows reports whether a token with claim ver of session sid passes v.
func (v TokenVersion) Allows(sid string, ver int64) bool {
	return ver >= v.Version || (sid != "" && sid == v.KeepSession && ver >= v.KeepFrom)
}

// UserVersion returns u's token version.
func UserVersion(u *User) TokenVersion {
	return TokenVersion{UserID: u.ID, Version: u.TokenVersion, KeepSession: u.VersionKeepSession, KeepFrom: u.VersionKeepFrom}
}

// Revocation is what one instance tells the others when it revokes: a
// session (SessionID), or a user's new token version (Version.UserID and
// Version), with the time Until which the tokens it refuses could live.
// UserChanged is the one message that revokes nothing: the id of a user
// whose record changed (username, email, role), so that the instances
// drop their cached copy. It travels on the bus alone: an instance that
// misses it serves the old record until its cache's TTL.
type Revocation struct {
	SessionID   string
	Until       time.Time
	Version     TokenVersion
	UserChanged int64
}

// RevocationRecord is one entry of the revocation log, which the database
// appends to in the same transaction as the change it records: a revoked
// session (SessionID) or a user's new token version (Version). Seq is
// assigned by the database; instances follow it as a cursor, so neither a
// lost message nor a skewed clock can hide a revocation from them.
type RevocationRecord struct {
	Seq       int64
	SessionID string
	UserID    int64
	Version   TokenVersion // zero for a session record
	At        time.Time    // when the revocation was made
}

// RevocationLog is the durable, ordered record of revocations.
type RevocationLog interface {
	// RevocationsAfter returns at most limit records with Seq above after,
	// in Seq order. A record is returned only once every record with a
	// lower Seq is visible too, so a reader that advances its cursor to
	// the last Seq it saw never skips one.
	RevocationsAfter(ctx context.Context, after int64, limit int) ([]RevocationRecord, error)
	// PruneRevocations deletes at most limit records made before cutoff
	// and returns how many went.
	PruneRevocations(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// Rotation is one refresh-token rotation, see SessionStore.Rotate.
type Rotation struct {
	OldHash string
	// Next is the successor's record; Next.SessionID names the session of
	// both tokens.
	Next    RefreshToken
	NextJTI string // remembered with the session for the grace interval
	// Spend is false under SimpleJWT's BLACKLIST_AFTER_ROTATION=False: the
	// old token then stays valid, and any token of the session rotates.
	Spend bool
	// ReuseInterval is the grace after a rotation during which presenting
	// the old token again is a duplicate (two tabs), not theft; 0: none.
	ReuseInterval time.Duration
	Now           time.Time
	// Check, when set, makes Rotate also require, in the statement that
	// spends the token, what a refresh otherwise reads first: the session
	// belongs to an active user whose token version allows the presented
	// token, and was used within the idle timeout. Rotate then caps
	// Next.ExpiresAt at the session's end and returns the user.
	Check *RotationCheck
}

// RotationCheck is what Rotation.Check requires of the token's session
// and user.
type RotationCheck struct {
	UserID  int64 // the session's user
	Version int64 // the presented token's ver claim, see TokenVersion.Allows
	// IdleTimeout, when positive: the session was last used at most this
	// long before Rotation.Now.
	IdleTimeout time.Duration
}

// InGrace reports whether presenting the spent token t at now is a
// duplicate within interval of the rotation that spent it.
func InGrace(t *RefreshToken, interval time.Duration, now time.Time) bool {
	return interval > 0 && t.Successor != nil && !t.SpentAt.IsZero() && now.Sub(t.SpentAt) <= interval
}

// Revocation reasons recorded on sessions.
const (
	ReasonLogout         = "logout"
	ReasonLogoutAll      = "logout_all"
	ReasonPasswordChange = "password_change"
	ReasonDeactivated    = "deactivated"
	ReasonReuse          = "refresh_reuse"
	ReasonAdmin          = "admin"
)

// PasswordChange is what UserStore.ChangePassword does.
type PasswordChange struct {
	UserID int64
	Hash   string    // the new password's hash
	Keep   string    // the session that stays signed in; "" for none
	Now    time.Time // when the change happens
	// ResetToken is the hash of the password-reset token
	// (AccountTokenPasswordReset) the change spends; "" for a change that
	// spends none (the old password was checked, or an admin set it).
	ResetToken string
}

// UserStore keeps users. Usernames are unique case-insensitively, and so
// are non-empty emails (under EmailKey).
type UserStore interface {
	// CreateUser inserts u and sets u.ID and u.CreatedAt. It returns
	// ErrUsernameTaken when the username exists in any letter case, and
	// ErrEmailTaken when another user has u.Email under EmailKey.
	CreateUser(ctx context.Context, u *User) error
	// UserByID returns ErrNotFound when no user has id.
	UserByID(ctx context.Context, id int64) (*User, error)
	// UserByUsername matches case-insensitively; returns ErrNotFound.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// SetPasswordHash replaces the hash; returns ErrNotFound.
	SetPasswordHash(ctx context.Context, id int64, hash string) error
	// SetLastLogin records a successful login; returns ErrNotFound.
	SetLastLogin(ctx context.Context, id int64, at time.Time) error
	// SetActive activates or deactivates a user; returns ErrNotFound.
	SetActive(ctx context.Context, id int64, active bool) error
	// BumpTokenVersion increments the user's token version, exempting the
	// session keep (may be empty) from the bump, records the new version
	// in the revocation log at now in the same transaction, and returns
	// it; returns ErrNotFound. Bumping again with the same keep session
	// keeps that session's tokens valid (TokenVersion.KeepFrom stays).
	BumpTokenVersion(ctx context.Context, id int64, keep string, now time.Time) (TokenVersion, error)
	// ChangePassword is a password change in one transaction: it replaces
	// the hash, bumps the token version as BumpTokenVersion does, revokes
	// the user's sessions but c.Keep as RevokeUserSessions does, with
	// ReasonPasswordChange, and deletes the user's password-reset tokens
	// (a link mailed for the old password must not undo the new one).
	// With c.ResetToken it also spends that reset token: when it is not
	// the user's, or is gone or expired at c.Now, nothing changes and it
	// returns ErrNotFound. On an error nothing changed, so the change can
	// be retried (with the old password, or the same reset link); after it
	// no token issued before it works but c.Keep's, and no session but
	// c.Keep is active. It returns the new version and the sessions it
	// revoked; ErrNotFound when no user has c.UserID. (Users, sessions and
	// account tokens share one database in every latch store.)
	ChangePassword(ctx context.Context, c PasswordChange) (TokenVersion, []Session, error)

	// UserByEmail matches EmailKey(email) (letter case ignored); it
	// returns ErrNotFound, also for an empty email.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser applies the non-nil fields of p to user id in one
	// statement and returns the user as stored. A new Email that differs
	// from the old one under EmailKey clears EmailVerified unless p sets
	// it too. It returns ErrUsernameTaken or ErrEmailTaken when another
	// user has the new username or address, and ErrNotFound.
	UpdateUser(ctx context.Context, id int64, p UserPatch) (*User, error)
	// SetEmailVerified marks the user's current address verified or not;
	// returns ErrNotFound.
	SetEmailVerified(ctx context.Context, id int64, verified bool) error
	// ListUsers returns the page of users q asks for, in id order, and how
	// many users match q.Search in all.
	ListUsers(ctx context.Context, q UserQuery) (users []User, total int64, err error)
	// DeleteUser deletes the user and, with them, their sessions and
	// refresh records; it returns ErrNotFound. It does not revoke: callers
	// revoke first (auth.Service.DeleteUser), so that other instances
	// refuse the user's tokens before the rows go.
	DeleteUser(ctx context.Context, id int64) error
}

// UserPatch is a change to a user's profile: nil fields stay as they are.
// Password, activation and token versions have methods of their own.
type UserPatch struct {
	Username      *string
	Email         *string
	EmailVerified *bool
	Role          *string
}

// UserQuery selects a page of users for ListUsers.
type UserQuery struct {
	// Search keeps the users whose username or email contains it, letter
	// case ignored (as a plain substring: % and _ are not wildcards).
	// Empty: every user.
	Search string
	// Role keeps the users of this role; empty: every role.
	Role string
	// Active keeps the active users (true) or the inactive ones (false);
	// nil: both.
	Active *bool
	Offset int
	Limit  int // at most this many; 0 or less: no limit
}

// SessionStore keeps sessions and refresh-token records.
type SessionStore interface {
	// CreateSession inserts s with first as its current refresh token.
	// first's hash alone also finds s (see RefreshToken).
	CreateSession(ctx context.Context, s *Session, first *RefreshToken) error
	// Session returns ErrNotFound when no session has id.
	Session(ctx context.Context, id string) (*Session, error)
	// RefreshToken returns what the store knows of the refresh token with
	// hash in session sid (see RefreshToken: a token of the session that
	// is neither its current one nor the one that replaced is reported
	// replaced), and the session. With sid "" (a token that names no
	// session, as SimpleJWT's) the session is the one created with hash as
	// its first token. Returns ErrNotFound when there is no such session.
	RefreshToken(ctx context.Context, sid, hash string) (*RefreshToken, *Session, error)
	// Rotate spends r.OldHash, the current token of session
	// r.Next.SessionID, and makes r.Next current, in one transaction; the
	// session counts as used at r.Next.IssuedAt (callers pass r.Now).
	// Under any concurrency at most one caller succeeds for one OldHash.
	// When the token was already spent it returns *SpentError (Is
	// ErrTokenSpent) inside r.ReuseInterval (see InGrace), and otherwise
	// revokes the session with ReasonReuse in that same transaction and
	// returns *ReuseError (Is ErrTokenReused). It returns
	// ErrSessionRevoked when the session is revoked or expired, and
	// ErrNotFound when there is no such session. With r.Check set it also
	// returns the session's user, and ErrRotationCheck, changing nothing,
	// when the token is usable but the check fails (the caller then finds
	// out why); without it the user is nil. A checked rotation's session
	// and user may carry only what the new tokens are signed from: the
	// session's ID, UserID and ExpiresAt, the user's ID, Username, Email,
	// Role, IsActive and TokenVersion.
	Rotate(ctx context.Context, r Rotation) (*Session, *User, error)
	// Touch marks session sid used at now, for refresh without rotation:
	// hash must be its current token. Errors as Rotate.
	Touch(ctx context.Context, sid, hash string, now time.Time) (*Session, error)
	// RevokeSession revokes one session (which refuses all its tokens) and
	// records it in the revocation log, in one transaction; it returns the
	// session as revoked. Revoking a revoked session is not an error and
	// keeps the first revocation time. Returns ErrNotFound.
	RevokeSession(ctx context.Context, id, reason string, now time.Time) (*Session, error)
	// RevokeUserSessions revokes every active session of userID except
	// keep (may be empty), records them in the revocation log in the same
	// transaction, and returns those it revoked.
	RevokeUserSessions(ctx context.Context, userID int64, keep, reason string, now time.Time) ([]Session, error)
	// ActiveSessions lists the user's sessions that are active at now,
	// most recently used first.
	ActiveSessions(ctx context.Context, userID int64, now time.Time) ([]Session, error)
	// PurgeExpired deletes sessions that ended before cutoff and refresh
	// records that expired before cutoff; it returns how many rows went.
	// Revoked sessions stay until they end, so a revoked token keeps
	// answering "blacklisted" rather than "unknown".
	PurgeExpired(ctx context.Context, cutoff time.Time) (int64, error)
}

// RevocationBus carries revocations between latch instances.
type RevocationBus interface {
	// Publish sends r to every subscribed instance, this one included.
	Publish(ctx context.Context, r Revocation) error
	// Subscribe delivers revocations to l until ctx ends or the
	// subscription breaks, and returns why it stopped. It calls
	// l.Connected each time the subscription is established (the caller
	// then catches up from the database) and l.Disconnected when it breaks.
	Subscribe(ctx context.Context, l RevocationListener) error
}

// RevocationListener receives what a RevocationBus delivers.
type RevocationListener interface {
	Deliver(r Revocation)
	Connected()
	Disconnected()
}

// SessionCache stores application values under (session, key), seed 000's
// per-user cache: latch drops a session's values when the session rotates,
// logs out or is revoked.
type SessionCache interface {
	// Get returns the value and true, or false when absent or expired.
	Get(ctx context.Context, sessionID, key string) ([]byte, bool, error)
	// Set stores value for ttl (0: until the session's values are dropped).
	Set(ctx context.Context, sessionID, key string, value []byte, ttl time.Duration) error
	// Delete removes one value.
	Delete(ctx context.Context, sessionID, key string) error
	// DropSession removes every value of the session.
	DropSession(ctx context.Context, sessionID string) error
}

// HandleStore keeps opaque token handles (SPEC §5.6, seed 002): a client
// holds a random handle, the store maps the handle's SHA-256 to the claims
// it stands for. Deleting the handle logs it out.
type HandleStore interface {
	// PutHandle stores claims under hash until expires; a hash stored
	// already is kept as it is (handles are derived from their claims, so
	// the same handle is put again when a refresh is repeated).
	PutHandle(ctx context.Context, hash, sessionID string, claims []byte, expires time.Time) error
	// Handle returns the claims of hash; ErrNotFound when absent or expired at now.
	Handle(ctx context.Context, hash string, now time.Time) ([]byte, error)
	// DeleteSessionHandles deletes every handle of a session.
	DeleteSessionHandles(ctx context.Context, sessionID string) error
}

// MailMessage is one message in the mail outbox: rendered, addressed and
// ready to hand to an SMTP server.
type MailMessage struct {
	ID       int64
	From, To string
	// Body is the whole RFC 5322 message. It may hold a reset link, so the
	// row is deleted as soon as the message is sent.
	Body      []byte
	Attempts  int // deliveries tried, this claim's included
	CreatedAt time.Time
}

// MailOutbox queues account mail in the database, so that a message
// survives an SMTP outage and a restart, and instances sharing one
// database never both send a message: a sender claims messages with a
// lease, and a claimed message is offered to no one else until the lease
// ends (a sender that died) or the sender gives it back.
type MailOutbox interface {
	// EnqueueMail stores m, due at once, and sets m.ID.
	EnqueueMail(ctx context.Context, m *MailMessage) error
	// ClaimMail claims at most limit messages that are due at now and not
	// claimed, oldest first, until now+lease, counting an attempt on each.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]MailMessage, error)
	// DeleteMail forgets a message: sent, or given up on. Deleting a
	// message that is gone is not an error.
	DeleteMail(ctx context.Context, id int64) error
	// RetryMail gives a claimed message back, due again at at; lastErr
	// says why it failed (never the message).
	RetryMail(ctx context.Context, id int64, at time.Time, lastErr string) error
	// PruneMail deletes the messages created before cutoff, however they
	// stand, and returns how many went.
	PruneMail(ctx context.Context, cutoff time.Time) (int64, error)
}

// AccountToken is a single-use secret mailed to a user: a password reset
// token, or an email verification / change key. Only its Hash (SHA-256,
// hex) is stored.
type AccountToken struct {
	Hash   string
	Kind   string // AccountTokenPasswordReset or AccountTokenEmail
	UserID int64
	// Email is the address a key confirms: the user's current one
	// (verification) or the one they asked to change to.
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Kinds of account tokens.
const (
	AccountTokenPasswordReset = "password_reset"
	AccountTokenEmail         = "email"
)

// AccountTokenStore keeps account tokens.
type AccountTokenStore interface {
	// PutAccountToken stores t.
	PutAccountToken(ctx context.Context, t *AccountToken) error
	// AccountToken returns the token of kind with hash when it has not
	// expired at now; ErrNotFound otherwise.
	AccountToken(ctx context.Context, kind, hash string, now time.Time) (*AccountToken, error)
	// TakeAccountToken deletes the token of kind with hash and returns it
	// when it had not expired at now: of concurrent callers, at most one
	// gets it. ErrNotFound otherwise.
	TakeAccountToken(ctx context.Context, kind, hash string, now time.Time) (*AccountToken, error)
	// DeleteAccountTokens deletes every token of kind of the user but the
	// one whose hash is except (none when except is empty): a reset makes
	// the other reset links useless, a new verification key the older ones.
	DeleteAccountTokens(ctx context.Context, userID int64, kind, except string) error
	// PurgeAccountTokens deletes the tokens that expired before cutoff and
	// returns how many went.
	PurgeAccountTokens(ctx context.Context, cutoff time.Time) (int64, error)
}
