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
	workers   chan struct{} // capacity workers: jobs running, and the slots held back
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	// SetWorkers holds back slots of workers to run fewer jobs at once.
	mu        sync.Mutex
	holdBack  int  // slots wanted held back
	held      int  // slots held back
	reserving bool // a reserve goroutine is taking slots
	reserver  sync.WaitGroup
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

// Workers returns how many jobs may run at once now: the pool's size less
// the slots SetWorkers holds back.
func (p *Pool) Workers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cap(p.workers) - p.held
}

// SetWorkers changes how many jobs may run at once, between 1 and the
// workers the pool was made with. It does not wait: a lower number takes
// effect as running jobs end, a higher one at once.
func (p *Pool) SetWorkers(n int) {
	n = min(max(n, 1), cap(p.workers))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdBack = cap(p.workers) - n
	for p.held > p.holdBack {
		<-p.workers // one of ours: never waits
		p.held--
	}
	if p.held < p.holdBack && !p.reserving {
		p.reserving = true
		p.reserver.Add(1)
		go p.reserve()
	}
}

// reserve takes worker slots, each as a job releases it, until holdBack
// are held or the pool closes.
func (p *Pool) reserve() {
	defer p.reserver.Done()
	for {
		p.mu.Lock()
		if p.held >= p.holdBack {
			p.reserving = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		select {
		case p.workers <- struct{}{}:
		case <-p.done:
			p.mu.Lock()
			p.reserving = false
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		if p.held < p.holdBack {
			p.held++
		} else {
			<-p.workers // no longer wanted: SetWorkers raised the number meanwhile
		}
		p.mu.Unlock()
	}
}

// Close makes later and waiting calls to Do return [ErrClosed], and waits for
// running jobs to finish. It must not be called from inside fn. Calling
// Close more than once is fine.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		close(p.done)
		p.reserver.Wait()
		p.mu.Lock()
		free := cap(p.workers) - p.held
		p.mu.Unlock()
		for range free {
			p.workers <- struct{}{}
		}
	})
}
