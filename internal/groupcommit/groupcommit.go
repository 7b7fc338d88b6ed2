// Package groupcommit packs requests that arrive together into batches, so
// that a store can do the work of many callers in one transaction or one
// statement: the batch's fixed cost (a commit, a round trip) is paid once
// for all of them.
//
// One batch runs at a time. A request that arrives while it runs waits for
// the next batch; a request that arrives when none runs goes at once,
// alone, so nothing waits for company that may not come.
package groupcommit

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by Submit once the Batcher is closed.
var ErrClosed = errors.New("groupcommit: closed")

// Batcher runs batches of requests of type T with a function of the
// store's. It is safe for concurrent use.
type Batcher[T any] struct {
	run  func([]T)
	max  int
	reqs chan T

	mu     sync.RWMutex // held for reading while sending on reqs
	closed bool
	quit   chan struct{}
	wg     sync.WaitGroup
}

// New starts a goroutine that takes up to max waiting requests at a time
// and passes them to run: one batch runs at a time, and the requests that
// arrive meanwhile make the next one. run answers every request of its
// batch (each T carries its own way to be answered, typically a channel
// the caller waits on); it must not keep the slice.
func New[T any](max int, run func([]T)) *Batcher[T] {
	if max < 1 {
		max = 1
	}
	b := &Batcher[T]{run: run, max: max, reqs: make(chan T, 4*max), quit: make(chan struct{})}
	b.wg.Go(b.work)
	return b
}

// Submit queues req for the next batch. It returns ErrClosed after Close,
// or ctx's error if ctx ends while the queue is full; once Submit returned
// nil, run will see req.
func (b *Batcher[T]) Submit(ctx context.Context, req T) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case b.reqs <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do submits req and waits until done is closed (by run, once req's
// batch has run) or ctx ends; in the latter case req may still run, with
// no one waiting for its outcome.
func (b *Batcher[T]) Do(ctx context.Context, req T, done <-chan struct{}) error {
	if err := b.Submit(ctx, req); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the worker once the requests queued so far have run.
func (b *Batcher[T]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.quit)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher[T]) work() {
	batch := make([]T, 0, b.max)
	var zero T
	for {
		var req T
		select {
		case req = <-b.reqs:
		case <-b.quit:
			// No sender is left (Close holds mu): run what is queued.
			for {
				select {
				case req = <-b.reqs:
					b.runBatch(append(batch[:0], req), zero)
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
		b.runBatch(batch, zero)
	}
}

// runBatch runs batch, then clears it so that the requests it held can be
// collected.
func (b *Batcher[T]) runBatch(batch []T, zero T) {
	b.run(batch)
	for i := range batch {
		batch[i] = zero
	}
}
