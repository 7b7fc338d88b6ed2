package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch"
)

// ErrCircuitOpen is the cause of the *latch.UnavailableError a client
// opened by Open returns, without trying Redis, while its circuit breaker
// is open.
var ErrCircuitOpen = errors.New("redis: circuit open after repeated failures; not trying for a moment")

// Fail-fast settings of the clients Open makes, where the URL sets none:
// a Redis that is away costs a request about a millisecond, not go-redis's
// defaults of seconds (five dial attempts 100 ms apart, three retries,
// 5 s dial and read timeouts).
const (
	dialTimeout = 250 * time.Millisecond
	ioTimeout   = 250 * time.Millisecond // read, write and waiting for a pooled connection
	maxRetries  = 1                      // once: a pooled connection may be stale after a Redis restart
	// The retry is for a stale connection, which a new one cures at once.
	minRetryBackoff = time.Millisecond
	maxRetryBackoff = 5 * time.Millisecond

	// breakerThreshold failures in a row open the breaker for
	// breakerCooldown; then a PING in the background probes Redis while
	// commands still fail fast, and its success closes the breaker.
	breakerThreshold = 3
	breakerCooldown  = time.Second
)

// breaker is a circuit breaker installed as a go-redis hook: once Redis
// has failed breakerThreshold times in a row, commands fail at once with
// ErrCircuitOpen, so that an outage (or a Redis that accepts connections
// but does not answer) costs requests nothing, not even the wait for a
// probe; a background PING every breakerCooldown finds Redis back. Every
// failure, tried or not, comes out as a *latch.UnavailableError, so
// callers and the HTTP layer tell it from a bad reply.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	ping      func(ctx context.Context) error // the probe, through the hook

	mu        sync.Mutex
	failures  int       // in a row
	openUntil time.Time // while failures ≥ threshold
	probing   bool      // a probe is out
}

func newBreaker(ping func(ctx context.Context) error) *breaker {
	return &breaker{threshold: breakerThreshold, cooldown: breakerCooldown, now: time.Now, ping: ping}
}

// probeKey marks the context of the probe, which the open breaker lets
// through.
type probeKey struct{}

// allow reports whether a command may try Redis; when the open breaker's
// cooldown is over it starts the probe.
func (b *breaker) allow(ctx context.Context) bool {
	if ctx.Value(probeKey{}) != nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.failures < b.threshold:
		return true
	case b.probing || b.now().Before(b.openUntil):
		return false
	}
	b.probing = true
	go b.probe()
	return false
}

func (b *breaker) probe() {
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), probeKey{}, true), dialTimeout+ioTimeout)
	defer cancel()
	b.ping(ctx) // recorded by the hook
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// record notes the outcome of a command that tried Redis.
func (b *breaker) record(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case outage(err):
		b.failures++
		if b.failures >= b.threshold {
			b.openUntil = b.now().Add(b.cooldown)
		}
	case err == nil || !errors.Is(err, context.Canceled):
		b.failures = 0 // Redis answered
	}
}

// outage reports whether err means Redis could not be reached or could
// not serve: not a reply such as redis.Nil or a script error, and not the
// caller's cancellation.
func outage(err error) bool {
	switch {
	case err == nil, errors.Is(err, goredis.Nil), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, goredis.ErrClosed):
		return false // closed by us at shutdown
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		var netErr net.Error
		if errors.As(err, &netErr) {
			return true
		}
		// Replies that say the server cannot serve now.
		for _, p := range []string{"LOADING", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "BUSY ", "ERR max number of clients"} {
			if strings.HasPrefix(rerr.Error(), p) {
				return true
			}
		}
		return false
	}
	return true
}

func unavailable(err error) error {
	if errors.Is(err, latch.ErrUnavailable) {
		return err
	}
	return &latch.UnavailableError{Store: "redis", Err: err}
}

var _ goredis.Hook = (*breaker)(nil)

// DialHook implements goredis.Hook; dials are judged by the command that
// needed them.
func (b *breaker) DialHook(next goredis.DialHook) goredis.DialHook { return next }

// ProcessHook implements goredis.Hook.
func (b *breaker) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !b.allow(ctx) {
			err := unavailable(ErrCircuitOpen)
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		b.record(err)
		if outage(err) {
			err = unavailable(err)
			cmd.SetErr(err)
		}
		return err
	}
}

// ProcessPipelineHook implements goredis.Hook.
func (b *breaker) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if !b.allow(ctx) {
			err := unavailable(ErrCircuitOpen)
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		err := next(ctx, cmds)
		b.record(err)
		if outage(err) {
			err = unavailable(err)
			for _, cmd := range cmds {
				if outage(cmd.Err()) {
					cmd.SetErr(unavailable(cmd.Err()))
				}
			}
		}
		return err
	}
}
