package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// startBlocked starts n jobs on p that each block until release is closed,
// and returns their errors once they finish.
func startBlocked(p *Pool, n int, release <-chan struct{}) <-chan error {
	errs := make(chan error, n)
	for range n {
		go func() { errs <- p.Do(context.Background(), func() { <-release }) }()
	}
	return errs
}

func TestPoolBusy(t *testing.T) {
	// Inside a synctest bubble: synctest.Wait returns once every goroutine
	// is blocked, and the bubble fails the test if any goroutine is left
	// blocked at the end (a leak).
	synctest.Test(t, func(t *testing.T) {
		const workers, queue = 2, 3
		p := NewPool(workers, queue)
		release := make(chan struct{})
		errs := startBlocked(p, workers+queue, release)
		synctest.Wait() // two running, three queued

		start := time.Now()
		ran := false
		if err := p.Do(context.Background(), func() { ran = true }); !errors.Is(err, ErrBusy) {
			t.Errorf("Do on a full pool = %v, want ErrBusy", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Do on a full pool waited %v, want no wait", d)
		}
		if ran {
			t.Errorf("Do on a full pool ran fn")
		}

		close(release)
		for range workers + queue {
			if err := <-errs; err != nil {
				t.Errorf("queued Do = %v, want nil", err)
			}
		}
		if err := p.Do(context.Background(), func() { ran = true }); err != nil || !ran {
			t.Errorf("Do on a drained pool = %v, ran %v; want nil, true", err, ran)
		}
		p.Close()
	})
}

func TestPoolContextWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, 1)
		release := make(chan struct{})
		running := startBlocked(p, 1, release)
		synctest.Wait()

		ctx, cancel := context.WithCancel(context.Background())
		queued := make(chan error, 1)
		ran := false
		go func() { queued <- p.Do(ctx, func() { ran = true }) }()
		synctest.Wait()
		cancel()
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Errorf("Do queued when ctx is canceled = %v, want context.Canceled", err)
		}

		// A deadline works the same, and the queue slot was given back.
		ctx, cancelTimeout := context.WithTimeout(context.Background(), time.Second)
		defer cancelTimeout()
		start := time.Now()
		if err := p.Do(ctx, func() { ran = true }); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do queued past its deadline = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Do returned after %v, want 1s", d)
		}
		if ran {
			t.Errorf("fn ran although ctx ended while queued")
		}

		close(release)
		if err := <-running; err != nil {
			t.Errorf("running Do = %v, want nil", err)
		}
		p.Close()
	})
}

func TestPoolDoneContext(t *testing.T) {
	t.Parallel()
	p := NewPool(1, 1)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Do(ctx, func() { t.Error("fn ran") }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a done ctx = %v, want context.Canceled", err)
	}
}

func TestPoolClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(1, 2)
		release := make(chan struct{})
		running := startBlocked(p, 1, release)
		synctest.Wait()
		queued := make(chan error, 2)
		for range 2 {
			go func() { queued <- p.Do(context.Background(), func() { t.Error("queued fn ran after Close") }) }()
		}
		synctest.Wait()

		closed := make(chan struct{})
		go func() { p.Close(); close(closed) }()
		for range 2 {
			if err := <-queued; !errors.Is(err, ErrClosed) {
				t.Errorf("queued Do during Close = %v, want ErrClosed", err)
			}
		}
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while a job was still running")
		default:
		}
		close(release)
		<-closed
		if err := <-running; err != nil {
			t.Errorf("running Do = %v, want nil", err)
		}
		if err := p.Do(context.Background(), func() { t.Error("fn ran after Close") }); !errors.Is(err, ErrClosed) {
			t.Errorf("Do after Close = %v, want ErrClosed", err)
		}
		p.Close() // idempotent
	})
}

func TestPoolPanicReleasesSlot(t *testing.T) {
	t.Parallel()
	p := NewPool(1, 1)
	defer p.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in fn did not reach the caller")
			}
		}()
		p.Do(context.Background(), func() { panic("boom") })
	}()
	if err := p.Do(context.Background(), func() {}); err != nil {
		t.Errorf("Do after a panic = %v, want nil", err)
	}
}

func TestNewPoolDefaults(t *testing.T) {
	t.Parallel()
	p := NewPool(0, 0)
	defer p.Close()
	if w := cap(p.workers); w < 1 {
		t.Errorf("workers = %d, want GOMAXPROCS", w)
	}
	if got, want := cap(p.admit), 5*cap(p.workers); got != want {
		t.Errorf("workers+queue = %d, want %d", got, want)
	}
}

// TestPoolConcurrency hammers a pool from many goroutines (run with -race):
// never more than workers jobs run at once, and every call either runs fn
// or reports ErrBusy.
func TestPoolConcurrency(t *testing.T) {
	t.Parallel()
	const workers, queue, callers = 3, 5, 64
	p := NewPool(workers, queue)
	defer p.Close()
	var running, peak, ran, busy atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range 50 {
				err := p.Do(context.Background(), func() {
					n := running.Add(1)
					for {
						old := peak.Load()
						if n <= old || peak.CompareAndSwap(old, n) {
							break
						}
					}
					time.Sleep(10 * time.Microsecond)
					running.Add(-1)
					ran.Add(1)
				})
				switch {
				case err == nil:
				case errors.Is(err, ErrBusy):
					busy.Add(1)
				default:
					t.Errorf("Do = %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > workers {
		t.Errorf("peak concurrency %d, want <= %d", got, workers)
	}
	if got := ran.Load() + busy.Load(); got != callers*50 {
		t.Errorf("ran %d + busy %d = %d, want %d", ran.Load(), busy.Load(), got, callers*50)
	}
	if ran.Load() == 0 {
		t.Error("no job ran")
	}
}

// running counts the jobs running at once and the most seen.
type running struct {
	now, most atomic.Int64
}

func (r *running) job(release <-chan struct{}) func() {
	return func() {
		n := r.now.Add(1)
		for {
			m := r.most.Load()
			if n <= m || r.most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		r.now.Add(-1)
	}
}

func TestPoolSetWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(3, 10)
		release := make(chan struct{})
		var r running
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() { p.Do(context.Background(), r.job(release)) })
		}
		synctest.Wait()
		if n := r.now.Load(); n != 3 {
			t.Fatalf("%d jobs running, want 3", n)
		}

		// Lowering: running jobs go on; as they end, only one runs at a time.
		p.SetWorkers(1)
		if got := p.Workers(); got != 3 {
			t.Errorf("Workers while three run = %d, want 3 until they end", got)
		}
		r.most.Store(0)
		close(release)
		wg.Wait()
		synctest.Wait() // the reserve has taken the slots the jobs left
		if p.Workers() != 1 {
			t.Errorf("Workers = %d after the jobs ended, want 1", p.Workers())
		}
		release = make(chan struct{})
		r.most.Store(0)
		for range 4 {
			wg.Go(func() { p.Do(context.Background(), r.job(release)) })
		}
		synctest.Wait()
		if n := r.now.Load(); n != 1 {
			t.Errorf("%d jobs running at SetWorkers(1), want 1", n)
		}

		// Raising takes effect at once.
		p.SetWorkers(5) // above the pool's size: its size
		synctest.Wait()
		if n := r.now.Load(); n != 3 {
			t.Errorf("%d jobs running after SetWorkers(5) on a pool of 3, want 3", n)
		}
		close(release)
		wg.Wait()

		p.SetWorkers(0) // at least one
		synctest.Wait()
		if p.Workers() != 1 {
			t.Errorf("Workers after SetWorkers(0) = %d, want 1", p.Workers())
		}
		p.Close()
		if err := p.Do(context.Background(), func() {}); !errors.Is(err, ErrClosed) {
			t.Errorf("Do after Close = %v", err)
		}
	})
}

// Close with slots held back and a reserve waiting for a running job.
func TestPoolCloseWhileHoldingBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPool(2, 2)
		release := make(chan struct{})
		errs := startBlocked(p, 2, release)
		synctest.Wait()
		p.SetWorkers(1) // the reserve waits for a job to end
		closed := make(chan struct{})
		go func() { p.Close(); close(closed) }()
		synctest.Wait()
		close(release)
		<-closed
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("running job: %v", err)
			}
		}
	})
}
