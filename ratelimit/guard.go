package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Guard slows down password guessing against one account, whatever the
// client IP: after a few failed logins the account must wait before the
// next attempt, longer after each further failure, up to a cap.
//
// The caller asks Wait before checking a password and, when it is not
// zero, refuses the attempt without checking the password and without
// calling Fail (so refused attempts never lengthen the wait); otherwise it
// checks the password and calls Fail or Reset. Account keys are compared
// and kept as given, for up to Forget: pass a fixed-size digest of the
// case-folded username (usernames are case-insensitive; auth does so), never
// the client's string, which could be as long as the request body.
//
// Once an account is backing off, the Wait that returns 0 claims the
// opening: until that attempt's Fail or Reset, other attempts are told to
// wait as long again, so concurrent guesses cannot share one opening. (A
// claim that is never followed by Fail or Reset only delays the next
// opening by the same wait; it does not count as a failure.) Before the
// back-off starts, concurrent attempts are not serialized.
//
// A Guard cannot lock the owner out for good: the wait never exceeds
// GuardPolicy.Max, refused attempts do not count, and a run of failures is
// forgotten Forget after its last failure. So an attacker can at most hold
// the account to one attempt (his or the owner's) per Max: at the default,
// 60 guesses an hour instead of thousands a second, while the owner can
// still log in at the next opening. An attacker who retries the instant
// each wait ends does compete with the owner for those openings; per-IP
// throttling bounds how many such attackers there are.
//
// Implementations: MemoryGuard (one process) and redis.Guard (shared by
// every instance).
type Guard interface {
	// Wait returns how long the account must wait before its next login
	// attempt; 0 means it may try now. It returns an error only when the
	// backend cannot be reached; the caller decides whether to fail open
	// or closed.
	Wait(ctx context.Context, account string) (time.Duration, error)
	// Fail records a failed attempt (wrong password).
	Fail(ctx context.Context, account string) error
	// Reset forgets the failures after a successful login.
	Reset(ctx context.Context, account string) error
}

// Defaults of GuardPolicy's fields.
const (
	DefaultGuardFree   = 5
	DefaultGuardBase   = time.Second
	DefaultGuardMax    = time.Minute
	DefaultGuardForget = 15 * time.Minute
)

// GuardPolicy is how a Guard backs off. Zero fields take the defaults.
//
// After Free failures, the next attempt must wait Base·2^(n−Free) after
// the n-th (the last) failure, capped at Max: with the defaults, 1 s after
// the 5th failure, 2 s after the 6th, 4 s, 8 s, …, then 1 min from the
// 11th on.
type GuardPolicy struct {
	// Free is the number of failed attempts that may be made without
	// waiting; default 5. Free 1 backs off from the first failure.
	Free int
	// Base is the first wait; default 1 s.
	Base time.Duration
	// Max caps the wait; default 1 min. It is raised to Base if lower.
	Max time.Duration
	// Forget is how long after its last failure a run of failures is
	// forgotten; default 15 min. It is raised to Max if lower, so that
	// the back-off is never cut short.
	Forget time.Duration
}

// WithDefaults returns p with every zero field set to its default and the
// fields made consistent (Base ≤ Max ≤ Forget).
func (p GuardPolicy) WithDefaults() GuardPolicy {
	if p.Free <= 0 {
		p.Free = DefaultGuardFree
	}
	if p.Base <= 0 {
		p.Base = DefaultGuardBase
	}
	if p.Max <= 0 {
		p.Max = DefaultGuardMax
	}
	p.Max = max(p.Max, p.Base)
	if p.Forget <= 0 {
		p.Forget = DefaultGuardForget
	}
	p.Forget = max(p.Forget, p.Max)
	return p
}

// Delay returns how long after the last of failures consecutive failures
// the next attempt must wait, for p as returned by WithDefaults: 0 for
// fewer than Free failures, else Base·2^(failures−Free) capped at Max.
func (p GuardPolicy) Delay(failures int) time.Duration {
	if failures <= 0 || failures < p.Free {
		return 0
	}
	d := p.Base
	for i := p.Free; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// MemoryGuard is a Guard for one process. Its memory is bounded by the
// accounts with a failure in the last Forget: older entries are evicted.
type MemoryGuard struct {
	p     GuardPolicy
	now   func() time.Time
	mu    sync.Mutex
	m     map[string]guardEntry
	calls int
	swept int // len(m) after the last sweep
}

type guardEntry struct {
	failures int
	failed   time.Time // the last failure, when Forget starts
	from     time.Time // the wait is counted from: the last failure or claim
}

var _ Guard = (*MemoryGuard)(nil)

// NewMemoryGuard returns a MemoryGuard with policy p (see
// GuardPolicy.WithDefaults); now nil means time.Now.
func NewMemoryGuard(p GuardPolicy, now func() time.Time) *MemoryGuard {
	if now == nil {
		now = time.Now
	}
	return &MemoryGuard{p: p.WithDefaults(), now: now, m: make(map[string]guardEntry)}
}

// Policy returns the policy g enforces, defaults filled in.
func (g *MemoryGuard) Policy() GuardPolicy { return g.p }

// Wait implements Guard; it never fails.
func (g *MemoryGuard) Wait(_ context.Context, account string) (time.Duration, error) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maybeSweep(now)
	e, ok := g.m[account]
	if !ok {
		return 0, nil
	}
	if now.Sub(e.failed) >= g.p.Forget {
		delete(g.m, account)
		return 0, nil
	}
	if e.failures < g.p.Free {
		return 0, nil
	}
	if w := g.p.Delay(e.failures) - now.Sub(e.from); w > 0 {
		return w, nil
	}
	e.from = now // claim the opening
	g.m[account] = e
	return 0, nil
}

// Fail implements Guard; it never fails.
func (g *MemoryGuard) Fail(_ context.Context, account string) error {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maybeSweep(now)
	e := g.m[account]
	if now.Sub(e.failed) >= g.p.Forget {
		e.failures = 0
	}
	e.failures++
	e.failed, e.from = now, now
	g.m[account] = e
	return nil
}

// Reset implements Guard; it never fails.
func (g *MemoryGuard) Reset(_ context.Context, account string) error {
	g.mu.Lock()
	delete(g.m, account)
	g.mu.Unlock()
	return nil
}

// maybeSweep evicts forgotten entries every 1024 calls, and whenever the
// map has doubled since the last sweep, so that memory stays bounded by
// the accounts that failed within Forget, at amortized O(1) per call.
func (g *MemoryGuard) maybeSweep(now time.Time) {
	g.calls++
	if g.calls%1024 != 0 && len(g.m) < 2*g.swept+64 {
		return
	}
	for k, e := range g.m {
		if now.Sub(e.failed) >= g.p.Forget {
			delete(g.m, k)
		}
	}
	g.swept = len(g.m)
}
