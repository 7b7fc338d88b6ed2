package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Counter is a shared per-key counter over fixed windows, e.g. Redis
// INCRBY on key:window with an expiry (redis.Counter).
type Counter interface {
	// Add adds n (≥ 0) to key's count in the window starting at
	// windowStart (length per) and returns the total across all instances
	// after the add. The count must live at least until the window ends.
	Add(ctx context.Context, key string, windowStart time.Time, per time.Duration, n int64) (int64, error)
}

// BatchOptions configure a Batched limiter. Zero values are the
// documented defaults.
type BatchOptions struct {
	// Batch is how many requests of one key an instance admits before it
	// sends them to the shared Counter; default max(1, N/100). It sets
	// the over-admission bound (see Batched): smaller is more exact, larger
	// talks to the Counter less.
	Batch int
	// FlushEvery is how long admitted requests may wait, uncounted by the
	// other instances, before they are sent even though fewer than Batch;
	// default 1 s. It does not enter the over-admission bound (which
	// holds even if remainders are never sent); it trades freshness for
	// Redis load: a key with fewer than Batch requests per FlushEvery
	// costs one Counter call per FlushEvery. While the Counter fails,
	// flushes are retried this often.
	FlushEvery time.Duration
	// FlushTimeout bounds each call to the Counter; default 500 ms.
	FlushTimeout time.Duration
	// Now is the clock that places requests in windows; default time.Now.
	// Instances sharing a Counter need clocks in step (NTP): a clock δ
	// ahead starts each window δ early.
	Now func() time.Time
	// OnError, if set, is told of every failed flush (for logging); it
	// must not block. Allow never returns a flush's error.
	OnError func(error)
}

// Batched is a Limiter for many instances that does no I/O in Allow: each
// instance counts admitted requests in process and reconciles with a
// shared Counter (Redis) in batches, from background goroutines.
//
// # Windows
//
// Batched counts over fixed windows aligned to Rate.Per (whole minutes,
// hours, UTC days since the Unix epoch), not the sliding window of Memory
// and redis.Limiter: a client can make N requests at the end of one window
// and N more at the start of the next. When refused, RetryAfter is the
// time left until the window ends, when the count starts again from zero.
//
// # Algorithm
//
// Per key, an instance keeps known, the window's total across all
// instances as the Counter last returned it, and its own requests that the
// Counter has not confirmed yet: inflight (being sent) and local (not sent
// yet). Allow admits a request when known+inflight+local < N and adds it
// to local; when local reaches Batch and nothing is in flight for the key,
// it starts a flush in a goroutine: inflight = local, local = 0, then
// Add(inflight) sets known to the returned total. A flush ending with
// local ≥ Batch chains the next one; smaller remainders are sent within
// FlushEvery. At most one flush per key is in flight, and while one is,
// local may grow only to Batch: the next request of that key waits for the
// flush (one round trip) rather than be admitted blind. This happens only
// to a key sending more than 2·Batch requests to one instance within one
// round trip to the Counter; everything else is map work under a sharded
// mutex.
//
// # Bound
//
// With I instances sharing the Counter, each instance's unconfirmed count
// (inflight+local) never exceeds 2·Batch, and so at most
//
//	N + 2·Batch·(I−1)
//
// requests per key are admitted in one window across all instances
// (MaxAdmitted); with the defaults and 1000/hour, 1020 for two instances.
// Proof: order the Counter's Adds as Redis executed them, and take the
// instance i whose known, at its last admission, came from the latest Add
// (executed at σ, total S; a cold instance's known is 0 from the window's
// start). Since known+inflight+local ≤ N after each admission, i admitted
// at most N − (S − s_i), s_i being i's share of S. Every other instance j
// admitted its share s_j of S plus the requests the Counter had not
// executed from j by σ; those were all unconfirmed at j's last admission
// (an Add of j's executed after σ and answered before that admission
// would have given j a more recent known than i's), so there are at most
// 2·Batch of them. Summing, with Σ s_j = S − s_i, gives the bound. It is
// tight: I cold instances whose first flushes are slow each admit 2·Batch
// (N + 2·Batch·(I−1) when N = 2·Batch). One instance alone never exceeds
// N. Conversely, Allow never refuses before N requests have been admitted
// across the instances, since known+inflight+local never exceeds the true
// total.
//
// The bound needs the Counter to answer. While it fails (Redis down),
// each instance goes on counting alone, so up to I·N requests pass; no
// request waits for a flush, failed flushes keep their counts and are
// retried every FlushEvery, and OnError is told. Limiters with different
// rates sharing a Counter must be given distinct keys.
//
// # Cost
//
// Allow takes a sharded mutex and does a map access: no I/O, no
// allocation once the key is known. The Counter is called at most once
// per Batch admitted requests of a key plus once per FlushEvery per key
// with a remainder; refused requests cost nothing. Idle keys are dropped
// once their window is over; a background goroutine runs only while
// remainders wait to be sent, so a Batched needs no Close. Call Flush at
// shutdown to send the remainders.
type Batched struct {
	rate         Rate
	per          int64 // ns
	shared       Counter
	batch        int64
	flushEvery   time.Duration
	flushTimeout time.Duration
	now          func() time.Time
	onError      func(error)

	seed      maphash.Seed
	shards    [batchShards]batchShard
	sem       chan struct{} // bounds concurrent flushes
	unhealthy atomic.Bool   // the last flush failed
	ticking   atomic.Bool   // the tick goroutine runs

	failures atomic.Int64
	errMu    sync.Mutex
	lastErr  error

	lateMu   sync.Mutex
	late     int           // sendLate calls running
	lateIdle chan struct{} // closed when late drops to 0; made by Flush
}

const (
	batchShards     = 64
	maxFlushing     = 64
	batchSweepEvery = 4096
)

type batchShard struct {
	mu    sync.Mutex
	m     map[string]*batchEntry
	due   []string // keys waiting for the next tick (their timer is set)
	spare []string // the other buffer for due, reused
	calls int
	_     [64]byte // keep shards on separate cache lines
}

// batchEntry is one key's state, guarded by its shard's mutex.
type batchEntry struct {
	win      int64 // window index: Unix ns / per
	known    int64 // the window's total as the Counter last returned it
	inflight int64 // sent to the Counter, not yet confirmed
	local    int64 // admitted, not yet sent
	flushing bool
	timer    bool          // key is in its shard's due list
	done     chan struct{} // closed when the running flush ends; made by waiters
}

var _ Limiter = (*Batched)(nil)

// NewBatched returns a Batched limiter admitting about rate.N requests per
// rate.Per per key across all the instances that share shared (see
// Batched for the exact bound). It panics if rate.N or rate.Per is not
// positive or shared is nil: rates come from ParseRate, which rules that
// out.
func NewBatched(rate Rate, shared Counter, opts BatchOptions) *Batched {
	if rate.N <= 0 || rate.Per <= 0 {
		panic(fmt.Sprintf("ratelimit: NewBatched: invalid rate %v", rate))
	}
	if shared == nil {
		panic("ratelimit: NewBatched: nil Counter")
	}
	if opts.Batch <= 0 {
		opts.Batch = max(1, rate.N/100)
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = time.Second
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = 500 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Batched{
		rate:         rate,
		per:          int64(rate.Per),
		shared:       shared,
		batch:        int64(opts.Batch),
		flushEvery:   opts.FlushEvery,
		flushTimeout: opts.FlushTimeout,
		now:          opts.Now,
		onError:      opts.OnError,
		seed:         maphash.MakeSeed(),
		sem:          make(chan struct{}, maxFlushing),
	}
	for i := range b.shards {
		b.shards[i].m = make(map[string]*batchEntry)
	}
	return b
}

// Rate returns the rate b enforces.
func (b *Batched) Rate() Rate { return b.rate }

// Batch returns the batch size in use.
func (b *Batched) Batch() int { return int(b.batch) }

// MaxAdmitted returns the most requests per key and window that the given
// number of instances, all configured like b and sharing one healthy
// Counter, admit together: N + 2·Batch·(instances−1).
func (b *Batched) MaxAdmitted(instances int) int64 {
	return int64(b.rate.N) + 2*b.batch*int64(max(instances-1, 0))
}

func (b *Batched) shard(key string) *batchShard {
	return &b.shards[maphash.String(b.seed, key)%batchShards]
}

// Allow implements Limiter. It does no I/O. It waits only when key already
// has 2·Batch requests unconfirmed on this instance (see Batched), and
// then returns ctx's error if ctx ends first.
func (b *Batched) Allow(ctx context.Context, key string) (Decision, error) {
	s := b.shard(key)
	now := b.now().UnixNano()
	s.mu.Lock()
	if s.calls++; s.calls%batchSweepEvery == 0 {
		b.sweep(s, now/b.per)
	}
	for {
		win := now / b.per
		e := s.m[key]
		if e == nil {
			e = &batchEntry{win: win}
			s.m[key] = e
		} else if e.win != win {
			// A new window. A flush still running for the old one
			// no longer concerns this window's counts; what was not
			// sent yet still goes to the old window, for instances
			// whose clock is behind.
			if e.local > 0 {
				b.sendLate(key, e.win, e.local)
			}
			e.win, e.known, e.inflight, e.local = win, 0, 0, 0
		}
		if e.known+e.inflight+e.local >= int64(b.rate.N) {
			s.mu.Unlock()
			return Decision{RetryAfter: time.Duration((win+1)*b.per - now)}, nil
		}
		if e.flushing && e.local >= b.batch && !b.unhealthy.Load() {
			if e.done == nil {
				e.done = make(chan struct{})
			}
			done := e.done
			s.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				return Decision{}, ctx.Err()
			}
			now = b.now().UnixNano()
			s.mu.Lock()
			continue
		}
		e.local++
		switch {
		case e.flushing:
			// Its end sends or schedules local.
		case e.local >= b.batch && !b.unhealthy.Load():
			b.startFlushLocked(s, key, e)
		case !e.timer:
			b.scheduleLocked(s, key, e)
		}
		s.mu.Unlock()
		return Decision{Allowed: true}, nil
	}
}

// sweep forgets the keys whose window is over (their counts no longer
// matter, except to instances whose clock is behind: what was not sent is
// sent late) and that have no flush running, so that memory is bounded by
// the keys active in the current window.
func (b *Batched) sweep(s *batchShard, win int64) {
	for k, e := range s.m {
		if e.win < win && !e.flushing {
			if e.local > 0 {
				b.sendLate(k, e.win, e.local)
			}
			delete(s.m, k)
		}
	}
}

// scheduleLocked has key flushed at the next tick, within FlushEvery.
func (b *Batched) scheduleLocked(s *batchShard, key string, e *batchEntry) {
	e.timer = true
	s.due = append(s.due, key)
	if b.ticking.CompareAndSwap(false, true) {
		go b.tick()
	}
}

// tick runs while keys are due: every FlushEvery it flushes the keys
// scheduled since the previous tick. It stops when none are left, so an
// idle Batched has no goroutine.
func (b *Batched) tick() {
	t := time.NewTicker(b.flushEvery)
	defer t.Stop()
	for range t.C {
		if b.flushDue() {
			continue
		}
		// Nothing was due. Stop, unless a key was scheduled after
		// the scan but before the Store (its CompareAndSwap failed).
		b.ticking.Store(false)
		if !b.anyDue() || !b.ticking.CompareAndSwap(false, true) {
			return
		}
	}
}

// flushDue flushes the keys scheduled since the last call and reports
// whether there were any.
func (b *Batched) flushDue() bool {
	found := false
	win := b.now().UnixNano() / b.per
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		due := s.due
		s.due, s.spare = s.spare[:0], nil
		for _, key := range due {
			found = true
			e := s.m[key]
			if e == nil || !e.timer {
				continue
			}
			e.timer = false
			switch {
			case e.flushing || e.local == 0:
				// A running flush sends or schedules local when it ends.
			case e.win != win:
				b.sendLate(key, e.win, e.local) // counts of a window that is over
				e.local = 0
			default:
				b.startFlushLocked(s, key, e)
			}
		}
		clear(due)
		s.spare = due[:0]
		s.mu.Unlock()
	}
	return found
}

func (b *Batched) anyDue() bool {
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		n := len(s.due)
		s.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// sendLate sends, in the background, n requests counted in window win,
// which is over: only instances whose clock is behind still care, and
// nothing waits for the result.
func (b *Batched) sendLate(key string, win, n int64) {
	b.lateMu.Lock()
	b.late++
	b.lateMu.Unlock()
	go func() {
		_, err := b.add(key, win, n)
		b.lateMu.Lock()
		if b.late--; b.late == 0 && b.lateIdle != nil {
			close(b.lateIdle)
			b.lateIdle = nil
		}
		b.lateMu.Unlock()
		if err != nil && b.onError != nil {
			b.onError(err)
		}
	}()
}

// add calls the Counter, at most maxFlushing at a time, and records a
// failure.
func (b *Batched) add(key string, win, n int64) (int64, error) {
	b.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), b.flushTimeout)
	total, err := b.shared.Add(ctx, key, time.Unix(0, win*b.per), b.rate.Per, n)
	cancel()
	<-b.sem
	if err != nil {
		err = fmt.Errorf("ratelimit: flush %d requests of %q: %w", n, key, err)
		b.errMu.Lock()
		b.lastErr = err
		b.errMu.Unlock()
		b.failures.Add(1)
		b.unhealthy.Store(true)
	} else if b.unhealthy.Load() {
		b.unhealthy.Store(false)
	}
	return total, err
}

func (b *Batched) startFlushLocked(s *batchShard, key string, e *batchEntry) {
	n := e.local
	e.local, e.inflight, e.flushing = 0, n, true
	go b.flush(s, key, e, e.win, n)
}

func (b *Batched) flush(s *batchShard, key string, e *batchEntry, win, n int64) {
	total, err := b.add(key, win, n)
	s.mu.Lock()
	e.flushing = false
	if e.win == win {
		e.inflight = 0
		if err != nil {
			e.local += n // sent again with the next flush
		} else {
			e.known = max(e.known, total)
		}
	}
	if e.done != nil {
		close(e.done)
		e.done = nil
	}
	switch {
	case e.local == 0:
	case e.local >= b.batch && err == nil:
		b.startFlushLocked(s, key, e)
	case !e.timer:
		b.scheduleLocked(s, key, e)
	}
	s.mu.Unlock()

	if err != nil && b.onError != nil {
		b.onError(err)
	}
}

// Flush sends every count not yet sent to the Counter and waits until the
// Counter has confirmed them all (or ctx ends), for a graceful shutdown.
// It returns a flush's error if one failed meanwhile.
func (b *Batched) Flush(ctx context.Context) error {
	failures := b.failures.Load()
	for {
		var waits []chan struct{}
		for i := range b.shards {
			s := &b.shards[i]
			s.mu.Lock()
			for key, e := range s.m {
				if !e.flushing && e.local > 0 {
					b.startFlushLocked(s, key, e)
				}
				if e.flushing {
					if e.done == nil {
						e.done = make(chan struct{})
					}
					waits = append(waits, e.done)
				}
			}
			s.mu.Unlock()
		}
		b.lateMu.Lock()
		if b.late > 0 {
			if b.lateIdle == nil {
				b.lateIdle = make(chan struct{})
			}
			waits = append(waits, b.lateIdle)
		}
		b.lateMu.Unlock()
		if len(waits) == 0 {
			return nil
		}
		for _, done := range waits {
			select {
			case <-done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if b.failures.Load() != failures {
			b.errMu.Lock()
			defer b.errMu.Unlock()
			return b.lastErr
		}
	}
}
