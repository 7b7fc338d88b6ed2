package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latch-auth/latch"
)

// Source is the durable record of revocations: the database.
type Source interface {
	RevokedSessions(ctx context.Context, since time.Time) ([]latch.Session, error)
	TokenVersions(ctx context.Context) ([]latch.TokenVersion, error)
	Session(ctx context.Context, id string) (*latch.Session, error)
	UserByID(ctx context.Context, id int64) (*latch.User, error)
}

// Options configure a Manager. Zero values are the documented defaults.
type Options struct {
	Source Source // required
	// Bus is nil on a single instance: revocations then stay local,
	// and the periodic catch-up picks up those made by other processes
	// (latch revoke) on the same database.
	Bus latch.RevocationBus
	// Window is how long a revoked session's tokens can outlive the
	// revocation: the access-token lifetime plus leeway. Required.
	Window time.Duration
	// CatchUp is the period of the database catch-up; default 2s.
	CatchUp time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Manager owns an Index and keeps it current. It implements the
// revocation check of package auth.
type Manager struct {
	opts  Options
	index *Index
	// synced is false while the bus is down or the index has not
	// caught up since it came back: checks then go to the database.
	synced   atomic.Bool
	mu       sync.Mutex
	lastSync time.Time // start of the last successful catch-up
	rebuild  chan struct{}
}

// NewManager returns a Manager; call Start to load and sync it.
func NewManager(opts Options) (*Manager, error) {
	if opts.Source == nil {
		return nil, errors.New("revocation: Options.Source is required")
	}
	if opts.Window <= 0 {
		return nil, errors.New("revocation: Options.Window must be positive")
	}
	if opts.CatchUp <= 0 {
		opts.CatchUp = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{opts: opts, index: NewIndex(), rebuild: make(chan struct{}, 1)}, nil
}

// Index returns the local index, for metrics and tests.
func (m *Manager) Index() *Index { return m.index }

// Synced reports whether the index is known to be current.
func (m *Manager) Synced() bool { return m.synced.Load() }

// Load fills the index from the database. With no bus the index is
// then synced; with one, it is synced once the subscription is up.
func (m *Manager) Load(ctx context.Context) error {
	if err := m.catchUp(ctx, true); err != nil {
		return err
	}
	if m.opts.Bus == nil {
		m.synced.Store(true)
	}
	return nil
}

// catchUp merges the database's revocations into the index; full also
// reloads every user's token version.
func (m *Manager) catchUp(ctx context.Context, full bool) error {
	started := m.opts.Now()
	m.mu.Lock()
	since := m.lastSync
	m.mu.Unlock()
	if full || since.IsZero() {
		since = started.Add(-m.opts.Window)
	} else {
		since = since.Add(-time.Second) // overlap: commit order is not clock order
	}
	sessions, err := m.opts.Source.RevokedSessions(ctx, since)
	if err != nil {
		return fmt.Errorf("revocation catch-up: %w", err)
	}
	rs := make([]latch.Revocation, 0, len(sessions))
	for _, s := range sessions {
		rs = append(rs, latch.Revocation{SessionID: s.ID, Until: s.RevokedAt.Add(m.opts.Window)})
	}
	if full {
		versions, err := m.opts.Source.TokenVersions(ctx)
		if err != nil {
			return fmt.Errorf("revocation catch-up: %w", err)
		}
		for _, v := range versions {
			rs = append(rs, latch.Revocation{Version: v})
		}
	}
	m.index.ApplyAll(rs)
	m.mu.Lock()
	if started.After(m.lastSync) {
		m.lastSync = started
	}
	m.mu.Unlock()
	return nil
}

// Run keeps the index current until ctx ends: the bus's
// subscription, the periodic catch-up and pruning. It returns once all of
// them have stopped.
func (m *Manager) Run(ctx context.Context) error {
	// The subscription ends before Run returns: the caller closes the
	// Redis client and the database after Run.
	var sub sync.WaitGroup
	defer sub.Wait()
	if m.opts.Bus != nil {
		sub.Go(func() {
			for ctx.Err() == nil {
				err := m.opts.Bus.Subscribe(ctx, listener{m})
				if ctx.Err() != nil {
					return
				}
				m.synced.Store(false)
				m.opts.Logger.Warn("revocation bus stopped; resubscribing", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		})
	}
	tick := time.NewTicker(m.opts.CatchUp)
	defer tick.Stop()
	for {
		full := false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-m.rebuild:
			full = true
		}
		if err := m.catchUp(ctx, full); err != nil {
			m.opts.Logger.Warn("revocation catch-up failed", "err", err)
			continue
		}
		if full && m.opts.Bus != nil {
			m.synced.Store(true)
			m.opts.Logger.Info("revocation index rebuilt from the database")
		}
		m.index.Prune(m.opts.Now())
	}
}

type listener struct{ m *Manager }

func (h listener) Deliver(r latch.Revocation) { h.m.index.Apply(r) }

// Connected asks for a full catch-up: messages sent while the subscription
// was down (or before a Redis restart or flush) are in the database.
func (h listener) Connected() {
	select {
	case h.m.rebuild <- struct{}{}:
	default:
	}
}

func (h listener) Disconnected() { h.m.synced.Store(false) }

// Check returns latch.ErrSessionRevoked when a token of session sid, user
// and version ver is revoked. While the index is not synced it asks the
// database instead, and returns latch.ErrUnavailable when that fails too:
// never a silent accept.
func (m *Manager) Check(ctx context.Context, sid string, userID, ver int64) error {
	if m.index.Revoked(sid, userID, ver) {
		return latch.ErrSessionRevoked
	}
	if m.synced.Load() {
		return nil
	}
	return m.checkSource(ctx, sid, userID, ver)
}

func (m *Manager) checkSource(ctx context.Context, sid string, userID, ver int64) error {
	if sid != "" {
		s, err := m.opts.Source.Session(ctx, sid)
		switch {
		case errors.Is(err, latch.ErrNotFound):
			return latch.ErrSessionRevoked
		case err != nil:
			return fmt.Errorf("%w: %w", latch.ErrUnavailable, err)
		case !s.RevokedAt.IsZero():
			m.index.Apply(latch.Revocation{SessionID: sid, Until: s.RevokedAt.Add(m.opts.Window)})
			return latch.ErrSessionRevoked
		}
	}
	u, err := m.opts.Source.UserByID(ctx, userID)
	switch {
	case errors.Is(err, latch.ErrNotFound):
		return nil // the caller reports the missing user
	case err != nil:
		return fmt.Errorf("%w: %w", latch.ErrUnavailable, err)
	}
	v := latch.TokenVersion{UserID: userID, Version: u.TokenVersion, KeepSession: u.VersionKeepSession}
	if !v.Allows(sid, ver) {
		m.index.Apply(latch.Revocation{Version: v})
		return latch.ErrSessionRevoked
	}
	return nil
}

// Announce applies r locally at once, then tells the other instances. The
// revocation must already be in the database: if publishing fails, the
// others still learn it from their catch-up.
func (m *Manager) Announce(ctx context.Context, r latch.Revocation) error {
	m.index.Apply(r)
	if m.opts.Bus == nil {
		return nil
	}
	if err := m.opts.Bus.Publish(ctx, r); err != nil {
		return fmt.Errorf("publish revocation: %w", err)
	}
	return nil
}
