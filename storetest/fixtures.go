package storetest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// zone is deliberately not UTC, and base carries nanoseconds: stores must
// return times in UTC, truncated to microseconds.
var (
	zone = time.FixedZone("UTC+05:30", 5*3600+30*60)
	base = time.Date(2031, time.May, 6, 7, 8, 9, 123456789, zone)
)

// at returns base+d.
func at(d time.Duration) time.Time { return base.Add(d) }

// micro is t as a store returns it: truncated to microseconds, in UTC.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// hashOf returns a refresh-token hash (hex SHA-256) derived from name.
func hashOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func checkTime(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	want = micro(want)
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want zero time", what, got)
		}
		return
	}
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s = %v is in %v, want UTC", what, got, got.Location())
	}
}

// checkErr fails t unless errors.Is(err, want); want nil means no error.
func checkErr(t testing.TB, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error: %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want one that Is %q", what, err, want)
	}
}

func checkUser(t testing.TB, got, want *latch.User) {
	t.Helper()
	if got == nil {
		t.Fatalf("user = nil, want %+v", want)
	}
	if got.ID != want.ID {
		t.Errorf("user ID = %d, want %d", got.ID, want.ID)
	}
	if got.Username != want.Username {
		t.Errorf("Username = %q, want %q", got.Username, want.Username)
	}
	if got.Email != want.Email {
		t.Errorf("Email = %q, want %q", got.Email, want.Email)
	}
	if got.EmailVerified != want.EmailVerified {
		t.Errorf("EmailVerified = %v, want %v", got.EmailVerified, want.EmailVerified)
	}
	if got.PasswordHash != want.PasswordHash {
		t.Errorf("PasswordHash = %q, want %q", got.PasswordHash, want.PasswordHash)
	}
	if got.Role != want.Role {
		t.Errorf("Role = %q, want %q", got.Role, want.Role)
	}
	if got.IsActive != want.IsActive {
		t.Errorf("IsActive = %v, want %v", got.IsActive, want.IsActive)
	}
	if got.TokenVersion != want.TokenVersion {
		t.Errorf("TokenVersion = %d, want %d", got.TokenVersion, want.TokenVersion)
	}
	if got.VersionKeepFrom != want.VersionKeepFrom {
		t.Errorf("VersionKeepFrom = %d, want %d", got.VersionKeepFrom, want.VersionKeepFrom)
	}
	if got.VersionKeepSession != want.VersionKeepSession {
		t.Errorf("VersionKeepSession = %q, want %q", got.VersionKeepSession, want.VersionKeepSession)
	}
	checkTime(t, "LastLogin", got.LastLogin, want.LastLogin)
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
}

func checkSession(t testing.TB, got, want *latch.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("session = nil, want %+v", want)
	}
	if got.ID != want.ID {
		t.Errorf("session ID = %q, want %q", got.ID, want.ID)
	}
	if got.UserID != want.UserID {
		t.Errorf("session %s: UserID = %d, want %d", want.ID, got.UserID, want.UserID)
	}
	if got.UserAgent != want.UserAgent {
		t.Errorf("session %s: UserAgent = %q, want %q", want.ID, got.UserAgent, want.UserAgent)
	}
	if got.IP != want.IP {
		t.Errorf("session %s: IP = %q, want %q", want.ID, got.IP, want.IP)
	}
	if got.RevokeReason != want.RevokeReason {
		t.Errorf("session %s: RevokeReason = %q, want %q", want.ID, got.RevokeReason, want.RevokeReason)
	}
	checkTime(t, "session "+want.ID+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "session "+want.ID+": LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	checkTime(t, "session "+want.ID+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, "session "+want.ID+": RevokedAt", got.RevokedAt, want.RevokedAt)
}

// checkSessions compares lists of sessions; sorted says the order matters,
// otherwise both are compared sorted by ID.
func checkSessions(t testing.TB, got, want []latch.Session, sorted bool) {
	t.Helper()
	if !sorted {
		got, want = slices.Clone(got), slices.Clone(want)
		byID := func(a, b latch.Session) int { return cmp.Compare(a.ID, b.ID) }
		slices.SortFunc(got, byID)
		slices.SortFunc(want, byID)
	}
	if sessionIDs(got) != sessionIDs(want) {
		t.Fatalf("sessions = %v, want %v", sessionIDs(got), sessionIDs(want))
	}
	for i := range got {
		checkSession(t, &got[i], &want[i])
	}
}

func sessionIDs(ss []latch.Session) string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return "[" + strings.Join(ids, " ") + "]"
}

func checkToken(t testing.TB, got, want *latch.RefreshToken) {
	t.Helper()
	if got == nil {
		t.Fatalf("refresh token = nil, want %+v", want)
	}
	if got.Hash != want.Hash {
		t.Errorf("token Hash = %q, want %q", got.Hash, want.Hash)
	}
	if got.SessionID != want.SessionID {
		t.Errorf("token SessionID = %q, want %q", got.SessionID, want.SessionID)
	}
	checkTime(t, "token IssuedAt", got.IssuedAt, want.IssuedAt)
	checkTime(t, "token ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, "token SpentAt", got.SpentAt, want.SpentAt)
	switch {
	case got.Successor == nil && want.Successor == nil:
	case got.Successor == nil:
		t.Errorf("token Successor = nil, want %+v", *want.Successor)
	case want.Successor == nil:
		t.Errorf("token Successor = %+v, want nil", *got.Successor)
	default:
		if got.Successor.JTI != want.Successor.JTI {
			t.Errorf("Successor.JTI = %q, want %q", got.Successor.JTI, want.Successor.JTI)
		}
		checkTime(t, "Successor.IssuedAt", got.Successor.IssuedAt, want.Successor.IssuedAt)
		checkTime(t, "Successor.ExpiresAt", got.Successor.ExpiresAt, want.Successor.ExpiresAt)
	}
}

// mustUser creates an active user named username.
func mustUser(t testing.TB, s Store, username string) *latch.User {
	t.Helper()
	u := &latch.User{Username: username, Email: username + "@example.com", PasswordHash: "hash-of-" + username, Role: "user", IsActive: true, CreatedAt: at(-24 * time.Hour)}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// fixture is a session with its first refresh token.
type fixture struct {
	session *latch.Session
	token   *latch.RefreshToken
}

// mustSession creates session id of userID, created and last used at
// created, ending at expires, with a first refresh token valid as long.
func mustSession(t testing.TB, s Store, userID int64, id string, created, expires time.Time) fixture {
	t.Helper()
	f := fixture{
		session: &latch.Session{ID: id, UserID: userID, CreatedAt: created, LastUsedAt: created, ExpiresAt: expires, UserAgent: "agent of " + id, IP: "192.0.2.7"},
		token:   &latch.RefreshToken{Hash: hashOf(id + "/0"), SessionID: id, IssuedAt: created, ExpiresAt: expires},
	}
	if err := s.CreateSession(t.Context(), f.session, f.token); err != nil {
		t.Fatalf("CreateSession(%q): %v", id, err)
	}
	return f
}

// rotation spends old for a successor named next, issued at now.
func rotation(old *latch.RefreshToken, next string, now time.Time) latch.Rotation {
	return latch.Rotation{
		OldHash: old.Hash,
		Next:    latch.RefreshToken{Hash: hashOf(next), SessionID: old.SessionID, IssuedAt: now, ExpiresAt: old.ExpiresAt},
		NextJTI: "jti-" + next,
		Spend:   true,
		Now:     now,
	}
}

// spentBy is old's record after r spent it.
func spentBy(old *latch.RefreshToken, r latch.Rotation) *latch.RefreshToken {
	t := *old
	t.SpentAt = r.Now
	t.Successor = &latch.Successor{JTI: r.NextJTI, IssuedAt: r.Next.IssuedAt, ExpiresAt: r.Next.ExpiresAt}
	return &t
}

// checkStored fails t unless the store knows the token with hash in
// session sid as want. want nil: as no token the store keeps, that is
// neither the session's current token nor the one that replaced (an older
// token of the family, if the session exists), and the hash alone finds
// no session.
func checkStored(t testing.TB, s Store, sid, hash string, want *latch.RefreshToken) {
	t.Helper()
	got, sess, err := s.RefreshToken(t.Context(), sid, hash)
	if want == nil {
		switch {
		case errors.Is(err, latch.ErrNotFound):
		case err != nil:
			t.Fatalf("RefreshToken(%q, %.8s…): %v", sid, hash, err)
		case got.SpentAt.IsZero() || got.Successor != nil:
			t.Fatalf("RefreshToken(%q, %.8s…) = %+v; want a token the session does not keep", sid, hash, got)
		}
		if got, _, err := s.RefreshToken(t.Context(), "", hash); !errors.Is(err, latch.ErrNotFound) {
			t.Fatalf("RefreshToken(\"\", %.8s…) = %+v, %v; want ErrNotFound", hash, got, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("RefreshToken(%q, %.8s…): %v", sid, hash, err)
	}
	checkToken(t, got, want)
	if sess == nil || sess.ID != want.SessionID {
		t.Errorf("RefreshToken(%q, %.8s…) session = %+v, want session %q", sid, hash, sess, want.SessionID)
	}
}

// replacedBefore is what the store knows of old, a token of the family
// older than the one the current token replaced: replaced, at the latest
// at r.Now.
func replacedBefore(old *latch.RefreshToken, r latch.Rotation) *latch.RefreshToken {
	return &latch.RefreshToken{Hash: old.Hash, SessionID: old.SessionID, SpentAt: r.Now}
}

// mustGetSession returns the stored session id.
func mustGetSession(t testing.TB, s Store, id string) *latch.Session {
	t.Helper()
	got, err := s.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%q): %v", id, err)
	}
	return got
}
