package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
)

var (
	// ErrBusy is returned by [Pool.Do] when every worker is busy and the
	// queue is full.
	ErrBusy = errors.New("password: hashing pool busy")
	// ErrClosed is returned by [Pool.Do] after [Pool.Close].
	ErrClosed = errors.New("password: hashing pool closed")
)

// Pool bounds hashing work: at most workers jobs run at once and at most
// queue more wait for a turn (see [NewPool]); beyond that [Pool.Do] fails fast with
// [ErrBusy], so a login flood costs a bounded amount of CPU and memory and
// leaves the rest of the server responsive.
//
// A Pool starts no goroutines: Do runs fn on the caller's goroutine once it
// holds one of the worker slots. It is safe for concurrent use.
type Pool struct {
	admit     chan struct{} // capacity workers+queue: jobs running or waiting
	workers   chan struct{} // capacity workers: jobs running
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// NewPool returns a Pool that runs at most workers jobs at once, with room
// for queue more waiting.
// workers <= 0 means runtime.GOMAXPROCS(0); queue <= 0 means 4 × workers.
func NewPool(workers, queue int) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if queue <= 0 {
		queue = 4 * workers
	}
	return &Pool{
		admit:   make(chan struct{}, workers+queue),
		workers: make(chan struct{}, workers),
		done:    make(chan struct{}),
	}
}

// Do runs fn once a worker slot is free and returns nil after fn returns.
// It returns [ErrBusy] at once when the queue is full, ctx.Err() if ctx is
// done before fn starts, and [ErrClosed] once the pool is closed; fn has
// not run in those cases. A panic in fn propagates to the caller after the
// slot is released.
func (p *Pool) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	select {
	case p.admit <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-p.admit }()
	select {
	case p.workers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return ErrClosed
	}
	defer func() { <-p.workers }()
	if err := ctx.Err(); err != nil { // select picked the slot over a done ctx
		return err
	}
	fn()
	return nil
}

// Close makes later and waiting calls to Do return [ErrClosed], and waits for
// running jobs to finish. It must not be called from inside fn. Calling
// Close more than once is fine.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		close(p.done)
		for range cap(p.workers) {
			p.workers <- struct{}{}
		}
	})
}
