package ratelimit

import (
	"context"
	"time"
)

// Fallback is a Limiter that asks Primary (shared by every instance, e.g.
// redis.Limiter) and, when Primary fails, Secondary (this process's
// Memory) instead: while the shared store is away each instance limits on
// its own (so up to N per instance pass) rather than not at all, and
// nobody is locked out. OnError, if set, is told of each failure.
type Fallback struct {
	Primary, Secondary Limiter
	OnError            func(error)
}

var _ Limiter = (*Fallback)(nil)

// Allow implements Limiter; it returns an error only when both fail.
func (f *Fallback) Allow(ctx context.Context, key string) (Decision, error) {
	d, err := f.Primary.Allow(ctx, key)
	if err == nil {
		return d, nil
	}
	if f.OnError != nil {
		f.OnError(err)
	}
	return f.Secondary.Allow(ctx, key)
}

// FallbackGuard is a Guard that records and consults failed logins in
// Primary (shared, e.g. redis.Guard) and, whenever Primary fails, in
// Secondary (this process's MemoryGuard): while the shared store is away,
// guessing is still slowed down per instance. OnError, if set, is told of
// each failure of Primary.
type FallbackGuard struct {
	Primary, Secondary Guard
	OnError            func(error)
}

var _ Guard = (*FallbackGuard)(nil)

// Wait implements Guard.
func (g *FallbackGuard) Wait(ctx context.Context, account string) (time.Duration, error) {
	d, err := g.Primary.Wait(ctx, account)
	if err == nil {
		return d, nil
	}
	g.failed(err)
	return g.Secondary.Wait(ctx, account)
}

// Fail implements Guard.
func (g *FallbackGuard) Fail(ctx context.Context, account string) error {
	if err := g.Primary.Fail(ctx, account); err != nil {
		g.failed(err)
		return g.Secondary.Fail(ctx, account)
	}
	return nil
}

// Reset implements Guard. The failures Secondary counted during an outage
// are forgotten too, so they cannot hold the account back later.
func (g *FallbackGuard) Reset(ctx context.Context, account string) error {
	serr := g.Secondary.Reset(ctx, account)
	if err := g.Primary.Reset(ctx, account); err != nil {
		g.failed(err)
		return serr
	}
	return nil
}

func (g *FallbackGuard) failed(err error) {
	if g.OnError != nil {
		g.OnError(err)
	}
}
