// Package ratelog keeps an outage from flooding the log: a slog.Handler
// that passes a record about a store being unavailable (one carrying a
// *latch.UnavailableError) at most once per interval per kind, and counts
// the ones it drops.
//
// During a database outage every request fails the same way; one line a
// second says as much as hundreds, and leaves room for everything else.
package ratelog

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/latch-auth/latch"
)

// DefaultEvery is the interval New uses when given 0.
const DefaultEvery = time.Second

// Handler wraps a slog.Handler; see the package doc. Records of one kind
// are those with the same level, message and failing store. Every other
// record passes untouched.
type Handler struct {
	next  slog.Handler
	state *state
}

type state struct {
	every time.Duration
	now   func() time.Time
	mu    sync.Mutex
	kinds map[kind]*seen
}

type kind struct {
	level slog.Level
	msg   string
	store string
}

type seen struct {
	last    time.Time
	dropped int
}

// New returns a Handler passing records to next; every is the interval
// (0: DefaultEvery) and now the clock (nil: time.Now).
func New(next slog.Handler, every time.Duration, now func() time.Time) *Handler {
	if every <= 0 {
		every = DefaultEvery
	}
	if now == nil {
		now = time.Now
	}
	return &Handler{next: next, state: &state{every: every, now: now, kinds: map[kind]*seen{}}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler: a repeat within the interval is dropped;
// the next record of its kind that passes carries "repeated", the number
// dropped since the last one.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	store := unavailableStore(r)
	if store == "" {
		return h.next.Handle(ctx, r)
	}
	k := kind{r.Level, r.Message, store}
	now := h.state.now()
	h.state.mu.Lock()
	s := h.state.kinds[k]
	if s == nil {
		s = &seen{}
		h.state.kinds[k] = s
	}
	if !s.last.IsZero() && now.Sub(s.last) < h.state.every {
		s.dropped++
		h.state.mu.Unlock()
		return nil
	}
	dropped := s.dropped
	s.last, s.dropped = now, 0
	h.state.mu.Unlock()
	if dropped > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", dropped))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler; the result shares h's counts.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), state: h.state}
}

// WithGroup implements slog.Handler; the result shares h's counts.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), state: h.state}
}

// unavailableStore returns the store of the first *latch.UnavailableError
// among r's attributes, or "".
func unavailableStore(r slog.Record) string {
	store := ""
	r.Attrs(func(a slog.Attr) bool {
		err, ok := a.Value.Any().(error)
		if !ok || a.Value.Kind() != slog.KindAny {
			return true
		}
		var ue *latch.UnavailableError
		if errors.As(err, &ue) {
			store = ue.Store
			return false
		}
		return true
	})
	return store
}
