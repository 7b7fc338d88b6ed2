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
	latch.RevocationLog
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
	// CatchUp is the period of the database catch-up; default 2s. It
	// bounds how long a revocation whose message was lost stays unseen.
	CatchUp time.Duration
	// PruneEvery is how often the database's revocation log is pruned of
	// records older than Window plus PruneMargin; default 1m.
	PruneEvery time.Duration
	// PruneMargin covers clock differences between instances; default 1m.
	PruneMargin time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
	// UserChanged, if set, is called with the id of each user whose
	// record an instance (this one included) changed: announced on the bus
	// (latch.Revocation.UserChanged, or a new token version), or a new
	// token version found in the database's log by Run's catch-up. It is
	// for the caches of user records.
	UserChanged func(userID int64)
}

// batch is how many log records one query reads or prunes.
const batch = 1000

// Manager owns an Index and keeps it current. It implements the
// revocation check of package auth.
type Manager struct {
	opts  Options
	index *Index
	// synced is false while the bus is down or the index has not
	// caught up since it came back: checks then go to the database.
	synced atomic.Bool
	mu     sync.Mutex // serializes catch-ups
	cursor int64      // Seq of the last log record applied
	wake   chan struct{}
}

// NewManager returns a Manager; call Load, then Run.
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
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = time.Minute
	}
	if opts.PruneMargin <= 0 {
		opts.PruneMargin = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{opts: opts, index: NewIndex(), wake: make(chan struct{}, 1)}, nil
}

// Index returns the local index, for metrics and tests.
func (m *Manager) Index() *Index { return m.index }

// Synced reports whether the index is known to be current.
func (m *Manager) Synced() bool { return m.synced.Load() }

// Cursor returns the Seq of the last revocation-log record applied.
func (m *Manager) Cursor() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursor
}

// Load fills the index from the database. With no bus the index is
// then synced; with one, it is synced once the subscription is up.
func (m *Manager) Load(ctx context.Context) error {
	// No user record is cached before the index is loaded: the log's
	// past version bumps are announced to no one (UserChanged).
	if err := m.catchUp(ctx, false); err != nil {
		return err
	}
	if m.opts.Bus == nil {
		m.synced.Store(true)
	}
	return nil
}

// catchUp applies the log records after the cursor. The database assigns
// Seq in commit order, so following it misses nothing, whatever the
// clocks of the instances that wrote the records.
func (m *Manager) catchUp(ctx context.Context, announce bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	for {
		recs, err := m.opts.Source.RevocationsAfter(ctx, m.cursor, batch)
		if err != nil {
			return fmt.Errorf("revocation catch-up: %w", err)
		}
		rs := make([]latch.Revocation, 0, len(recs))
		for _, r := range recs {
			if until := r.At.Add(m.opts.Window); !until.Before(now) { // else: every token it covers has expired
				rs = append(rs, latch.Revocation{SessionID: r.SessionID, Version: r.Version, Until: until})
			}
			if f := m.opts.UserChanged; f != nil && announce && r.Version.UserID != 0 {
				// A new version is a changed user record (a deactivation
				// by latch deactivate, say), as on the bus.
				f(r.Version.UserID)
			}
		}
		m.index.ApplyAll(rs)
		if len(recs) > 0 {
			m.cursor = recs[len(recs)-1].Seq
		}
		if len(recs) < batch {
			return nil
		}
	}
}

// pruneLog deletes log records no token can need any more, in batches.
func (m *Manager) pruneLog(ctx context.Context) error {
	cutoff := m.opts.Now().Add(-m.opts.Window - m.opts.PruneMargin)
	for {
		n, err := m.opts.Source.PruneRevocations(ctx, cutoff, batch)
		if err != nil || n < batch {
			return err
		}
	}
}

// Run keeps the index current until ctx ends: the bus's subscription,
// the periodic catch-up, and pruning of the index and of the log. It
// returns once everything it started has stopped.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if m.opts.Bus != nil {
		wg.Go(func() { m.subscribe(ctx) })
	}
	tick := time.NewTicker(m.opts.CatchUp)
	defer tick.Stop()
	prune := time.NewTicker(m.opts.PruneEvery)
	defer prune.Stop()
	for {
		woken := false
		select {
		case <-ctx.Done():
			return nil
		case <-prune.C:
			if err := m.pruneLog(ctx); err != nil && ctx.Err() == nil {
				m.opts.Logger.Warn("revocation log pruning failed", "err", err)
			}
			continue
		case <-tick.C:
		case <-m.wake:
			woken = true
		}
		if err := m.catchUp(ctx, true); err != nil {
			if ctx.Err() == nil {
				m.opts.Logger.Warn("revocation catch-up failed", "err", err)
			}
			if woken {
				// Still unsynced: try again on the next tick.
				m.signal()
			}
			continue
		}
		if woken && m.opts.Bus != nil && !m.synced.Load() {
			m.synced.Store(true)
			m.opts.Logger.Info("revocation index caught up with the database")
		}
		m.index.Prune(m.opts.Now())
	}
}

func (m *Manager) subscribe(ctx context.Context) {
	for ctx.Err() == nil {
		err := m.opts.Bus.Subscribe(ctx, listener{m})
		if ctx.Err() != nil {
			return
		}
		m.synced.Store(false)
		if err == nil {
			err = errors.New("subscription ended")
		}
		if !errors.Is(err, latch.ErrUnavailable) {
			// Marked as an outage, so that the log says it once a second
			// (with a count) rather than at every retry while it lasts.
			err = &latch.UnavailableError{Store: "revocation bus", Err: err}
		}
		m.opts.Logger.Warn("revocation bus stopped; resubscribing", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (m *Manager) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

type listener struct{ m *Manager }

func (h listener) Deliver(r latch.Revocation) {
	if f := h.m.opts.UserChanged; f != nil {
		// A new token version is a changed user record too (a role, an
		// activation).
		for _, id := range []int64{r.UserChanged, r.Version.UserID} {
			if id != 0 {
				f(id)
			}
		}
	}
	if r.Until.IsZero() {
		r.Until = h.m.opts.Now().Add(h.m.opts.Window)
	}
	h.m.index.Apply(r)
}

// Connected asks for a catch-up: messages sent while the subscription was
// down (or before a Redis restart or flush) are in the database's log.
func (h listener) Connected() { h.m.signal() }

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
	if v := latch.UserVersion(u); !v.Allows(sid, ver) {
		m.index.Apply(latch.Revocation{Version: v, Until: m.opts.Now().Add(m.opts.Window)})
		return latch.ErrSessionRevoked
	}
	return nil
}

// Announce applies r locally at once, then tells the other instances. The
// revocation must already be in the database: if publishing fails, the
// others still learn it from their catch-up.
func (m *Manager) Announce(ctx context.Context, r latch.Revocation) error {
	if r.Until.IsZero() {
		r.Until = m.opts.Now().Add(m.opts.Window)
	}
	m.index.Apply(r)
	if m.opts.Bus == nil {
		return nil
	}
	if err := m.opts.Bus.Publish(ctx, r); err != nil {
		return fmt.Errorf("publish revocation: %w", err)
	}
	return nil
}
