package revocation

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/sqlite"
)

func TestIndex(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	ix := NewIndex()
	ix.Apply(latch.Revocation{SessionID: "s1", Until: t0.Add(time.Minute)})
	ix.Apply(latch.Revocation{Version: latch.TokenVersion{UserID: 7, Version: 3, KeepSession: "keep", KeepFrom: 1}, Until: t0.Add(time.Hour)})
	ix.Apply(latch.Revocation{Version: latch.TokenVersion{UserID: 7, Version: 2}, Until: t0.Add(2 * time.Hour)}) // late, older: ignored
	tests := []struct {
		name        string
		sid         string
		user, ver   int64
		wantRevoked bool
	}{
		{"revoked session", "s1", 1, 0, true},
		{"other session", "s2", 1, 0, false},
		{"no session, user without version", "", 1, 0, false},
		{"old version", "s3", 7, 2, true},
		{"current version", "s3", 7, 3, false},
		{"newer version", "s3", 7, 4, false},
		{"kept session one behind", "keep", 7, 2, false},
		{"kept session at its floor", "keep", 7, 1, false},
		{"kept session below its floor", "keep", 7, 0, true},
		{"SimpleJWT token without sid or ver", "", 7, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ix.Revoked(tt.sid, tt.user, tt.ver); got != tt.wantRevoked {
				t.Fatalf("Revoked(%q, %d, %d) = %v, want %v", tt.sid, tt.user, tt.ver, got, tt.wantRevoked)
			}
		})
	}
	if n := ix.Prune(t0.Add(30 * time.Second)); n != 0 {
		t.Fatalf("pruned %d entries before they expired", n)
	}
	if n := ix.Prune(t0.Add(2 * time.Minute)); n != 1 {
		t.Fatalf("pruned %d entries, want 1", n)
	}
	if sessions, versions := ix.Len(); sessions != 0 || versions != 1 {
		t.Fatalf("Len = %d, %d; want 0, 1", sessions, versions)
	}
	// The version goes when the last token it refuses has expired (the
	// late older message did not extend it).
	if n := ix.Prune(t0.Add(90 * time.Minute)); n != 1 {
		t.Fatalf("pruned %d entries, want the version", n)
	}
	if sessions, versions := ix.Len(); sessions != 0 || versions != 0 {
		t.Fatalf("Len = %d, %d; want 0, 0", sessions, versions)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// session creates an active session of a new user.
func session(t *testing.T, db *sqlite.DB, name string, now time.Time) (*latch.User, *latch.Session) {
	t.Helper()
	ctx := context.Background()
	u := &latch.User{Username: name, PasswordHash: "x", Role: "user", IsActive: true}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	s := &latch.Session{ID: name + "-session", UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, s, &latch.RefreshToken{Hash: name, SessionID: s.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return u, s
}

// TestManagerLoadsFromDatabase: a new instance learns revocations made
// before it started, only those still inside the window.
func TestManagerLoadsFromDatabase(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	db := newStore(t)
	_, old := session(t, db, "old", c.t)
	_, recent := session(t, db, "recent", c.t)
	bumped, _ := session(t, db, "bumped", c.t)
	if _, err := db.RevokeSession(ctx, old.ID, latch.ReasonLogout, c.t.Add(-20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeSession(ctx, recent.ID, latch.ReasonLogout, c.t.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BumpTokenVersion(ctx, bumped.ID, "", c.t); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Source: db, Window: 15 * time.Minute, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !m.Synced() {
		t.Fatal("a manager without a bus is synced once loaded")
	}
	if err := m.Check(ctx, recent.ID, recent.UserID, 0); !errors.Is(err, latch.ErrSessionRevoked) {
		t.Fatalf("recently revoked session: %v, want ErrSessionRevoked", err)
	}
	if sessions, _ := m.Index().Len(); sessions != 1 {
		t.Fatalf("index holds %d sessions; the one revoked before the window must not be loaded", sessions)
	}
	if err := m.Check(ctx, "any", bumped.ID, 0); !errors.Is(err, latch.ErrSessionRevoked) {
		t.Fatalf("token of an old version: %v, want ErrSessionRevoked", err)
	}
	if err := m.Check(ctx, "any", bumped.ID, 1); err != nil {
		t.Fatalf("token of the current version: %v", err)
	}
}

// brokenBus is a bus whose subscription is always down, as when Redis is.
type brokenBus struct{}

func (brokenBus) Publish(context.Context, latch.Revocation) error { return errors.New("redis down") }
func (brokenBus) Subscribe(ctx context.Context, l latch.RevocationListener) error {
	l.Disconnected()
	return errors.New("redis down")
}

// TestManagerUnsyncedAsksDatabase: while the bus is down the manager does
// not trust its index for "valid" answers and asks the database; when the
// database fails too it answers ErrUnavailable, never a silent accept.
func TestManagerUnsyncedAsksDatabase(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	db := newStore(t)
	u, s := session(t, db, "alice", c.t)
	m, err := NewManager(Options{Source: db, Bus: brokenBus{}, Window: 15 * time.Minute, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Synced() {
		t.Fatal("synced before the bus subscribed")
	}
	if err := m.Check(ctx, s.ID, u.ID, 0); err != nil {
		t.Fatalf("active session while unsynced: %v", err)
	}
	// Revoked by another instance; no message arrives.
	if _, err := db.RevokeSession(ctx, s.ID, latch.ReasonLogout, c.t); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(ctx, s.ID, u.ID, 0); !errors.Is(err, latch.ErrSessionRevoked) {
		t.Fatalf("session revoked elsewhere while unsynced: %v, want ErrSessionRevoked", err)
	}
	// Learned: it is refused from the index even with the database gone.
	db.Close()
	if err := m.Check(ctx, s.ID, u.ID, 0); !errors.Is(err, latch.ErrSessionRevoked) {
		t.Fatalf("known revocation with the database down: %v", err)
	}
	if err := m.Check(ctx, "other", u.ID, 0); !errors.Is(err, latch.ErrUnavailable) {
		t.Fatalf("unknown session with bus and database down: %v, want ErrUnavailable", err)
	}
}

// TestManagerCatchUp: revocations written by another process (latch
// revoke on the same database) reach a bus-less instance through the
// periodic catch-up.
func TestManagerCatchUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := newStore(t)
	now := time.Now().UTC()
	u, s := session(t, db, "alice", now)
	var changed atomic.Int64 // the last user announced as changed
	m, err := NewManager(Options{Source: db, Window: 15 * time.Minute, CatchUp: 20 * time.Millisecond,
		UserChanged: func(id int64) { changed.Store(id) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go m.Run(ctx)
	if _, err := db.RevokeSession(ctx, s.ID, latch.ReasonAdmin, time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Check(ctx, s.ID, u.ID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("catch-up did not pick up a revocation made in the database")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A new token version (latch deactivate, from another process) is a
	// changed user record too: the user caches hear of it.
	if _, err := db.BumpTokenVersion(ctx, u.ID, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	for changed.Load() != u.ID {
		if time.Now().After(deadline) {
			t.Fatal("catch-up did not announce the user whose version changed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slowBus is a bus whose Subscribe, like a real one, takes a moment to
// wind down after its context ends.
type slowBus struct{ returned atomic.Bool }

func (*slowBus) Publish(context.Context, latch.Revocation) error { return nil }
func (b *slowBus) Subscribe(ctx context.Context, l latch.RevocationListener) error {
	l.Connected()
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	l.Disconnected()
	b.returned.Store(true)
	return ctx.Err()
}

// TestManagerRunWaitsForSubscription: Run returns only once its
// subscription has ended, so that the caller can close the stores and the
// Redis client after it.
func TestManagerRunWaitsForSubscription(t *testing.T) {
	bus := &slowBus{}
	m, err := NewManager(Options{Source: newStore(t), Bus: bus, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	<-done
	if !bus.returned.Load() {
		t.Fatal("Run returned while its subscription was still running")
	}
}

// recordingHandler keeps the records logged through it.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// TestBusFailureLoggedAsOutage: a subscription that keeps failing is
// logged with a *latch.UnavailableError, which latch's log handler
// (internal/ratelog) folds to a line a second however often it retries.
func TestBusFailureLoggedAsOutage(t *testing.T) {
	db := newStore(t)
	h := &recordingHandler{}
	m, err := NewManager(Options{Source: db, Bus: brokenBus{}, Window: 15 * time.Minute, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	var found *slog.Record
	for found == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		h.mu.Lock()
		for i := range h.records {
			if h.records[i].Message == "revocation bus stopped; resubscribing" {
				found = &h.records[i]
			}
		}
		h.mu.Unlock()
	}
	cancel()
	<-done
	if found == nil {
		t.Fatal("no record of the failed subscription")
	}
	var ue *latch.UnavailableError
	found.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			errors.As(err, &ue)
		}
		return true
	})
	if ue == nil {
		t.Errorf("the failure is logged without a *latch.UnavailableError")
	}
}
