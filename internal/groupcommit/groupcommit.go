// Package groupcommit packs requests that arrive together into batches, so
// that a store can do the work of many callers in one transaction or one
// statement: the batch's fixed cost (a commit, a round trip) is paid once
// for all of them.
//
// One batch runs at a time. A request that arrives while it runs waits for
// the next batch; a request that arrives when none runs goes at once,
// alone, so nothing waits for company that may not come — unless the
// Batcher holds batches (NewHolding), for when the callers come in waves.
package groupcommit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by Submit once the Batcher is closed.
var ErrClosed = errors.New("groupcommit: closed")

// Call is one request in a batch: what it asks, and what came of it once
// its batch has run.
type Call[In, Out any] struct {
	In   In
	Out  Out   // set by the run function
	Err  error // set by the run function: this request's own failure
	done chan struct{}
}

// Batcher runs batches of calls with a function of the store's. It is
// safe for concurrent use.
type Batcher[In, Out any] struct {
	run  func([]*Call[In, Out])
	max  int
	hold time.Duration // see NewHolding
	reqs chan *Call[In, Out]

	mu     sync.RWMutex // held for reading while sending on reqs
	closed bool
	quit   chan struct{}
	wg     sync.WaitGroup
}

// New starts a goroutine that takes up to max waiting calls at a time and
// passes them to run: one batch runs at a time, and the calls that arrive
// meanwhile make the next one. run sets each call's Out or Err; the
// Batcher then answers the callers. run must not keep the slice.
func New[In, Out any](max int, run func([]*Call[In, Out])) *Batcher[In, Out] {
	return NewHolding(max, 0, run)
}

// NewHolding is New with batches held for company: a batch smaller than
// the one before it waits up to hold for calls to make it as big, then
// runs with what it has. Callers that come in waves (each answered batch
// sends its clients back at about the same time) then make one batch per
// wave instead of a batch of the first to come back and another of the
// rest; a lone caller waits once, and its batches of one then run at once.
func NewHolding[In, Out any](max int, hold time.Duration, run func([]*Call[In, Out])) *Batcher[In, Out] {
	if max < 1 {
		max = 1
	}
	b := &Batcher[In, Out]{run: run, max: max, hold: hold, reqs: make(chan *Call[In, Out], 4*max), quit: make(chan struct{})}
	b.wg.Go(b.work)
	return b
}

// Submit queues in for the next batch. It returns ErrClosed after Close,
// or ctx's error if ctx ends while the queue is full; otherwise run will
// see the call it returns.
func (b *Batcher[In, Out]) Submit(ctx context.Context, in In) (*Call[In, Out], error) {
	c := &Call[In, Out]{In: in, done: make(chan struct{})}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	select {
	case b.reqs <- c:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Wait waits until c's batch has run and returns its outcome, or ctx's
// error if ctx ends first (the call may still run, with no one waiting).
func (c *Call[In, Out]) Wait(ctx context.Context) (Out, error) {
	select {
	case <-c.done:
		return c.Out, c.Err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// Do submits in and waits for its outcome.
func (b *Batcher[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	c, err := b.Submit(ctx, in)
	if err != nil {
		var zero Out
		return zero, err
	}
	return c.Wait(ctx)
}

// Close stops the worker once the requests queued so far have run.
func (b *Batcher[In, Out]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.quit)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher[In, Out]) work() {
	batch := make([]*Call[In, Out], 0, b.max)
	last := 1 // the size of the batch before
	held := time.NewTimer(time.Hour)
	held.Stop()
	for {
		var req *Call[In, Out]
		select {
		case req = <-b.reqs:
		case <-b.quit:
			// No sender is left (Close holds mu): run what is queued.
			for {
				select {
				case req = <-b.reqs:
					b.runBatch(append(batch[:0], req))
				default:
					return
				}
			}
		}
		batch = append(batch[:0], req)
	fill:
		for len(batch) < b.max {
			select {
			case req = <-b.reqs:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		if len(batch) < last && b.hold > 0 {
			held.Reset(b.hold)
		wait:
			for len(batch) < last {
				select {
				case req = <-b.reqs:
					batch = append(batch, req)
				case <-held.C:
					break wait
				case <-b.quit:
					break wait
				}
			}
			held.Stop()
		}
		last = len(batch)
		b.runBatch(batch)
	}
}

// runBatch runs batch, answers its callers, then clears it so that the
// calls it held can be collected.
func (b *Batcher[In, Out]) runBatch(batch []*Call[In, Out]) {
	b.run(batch)
	for i, c := range batch {
		close(c.done)
		batch[i] = nil
	}
}
