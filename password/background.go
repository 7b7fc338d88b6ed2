package password

import (
	"runtime"
	"sync"
)

// Background runs functions on dedicated OS threads at a low scheduling
// priority (nice 19 on Linux), so that password hashing, which is CPU- and
// memory-heavy, yields the CPU to request handling instead of competing
// with it: under a login flood, authenticated requests keep their latency.
//
// The threads hold Go Ps while they compute; give the process that many
// more (runtime.GOMAXPROCS) so request handling keeps as many Ps as cores.
type Background struct {
	jobs chan job
	wg   sync.WaitGroup
	once sync.Once
}

type job struct {
	fn   func()
	done chan any // receives the panic value of fn, or nil
}

// NewBackground starts threads (at least 1) dedicated threads.
func NewBackground(threads int) *Background {
	b := &Background{jobs: make(chan job)}
	for range max(threads, 1) {
		b.wg.Add(1)
		go b.worker()
	}
	return b
}

func (b *Background) worker() {
	defer b.wg.Done()
	// Never unlocked: the lowered priority must not leak to other
	// goroutines. The thread ends with this goroutine.
	runtime.LockOSThread()
	lowerPriority()
	for j := range b.jobs {
		j.done <- run(j.fn)
	}
}

func run(fn func()) (p any) {
	defer func() { p = recover() }()
	fn()
	return nil
}

// Run runs fn on one of the threads and returns when it has; a panic in
// fn is raised again in the caller. Callers bound their own concurrency
// (Pool does); Run waits for a free thread.
func (b *Background) Run(fn func()) {
	done := make(chan any, 1)
	b.jobs <- job{fn: fn, done: done}
	if p := <-done; p != nil {
		panic(p)
	}
}

// Close stops the threads once running jobs are done. Run must not be
// called after Close.
func (b *Background) Close() {
	b.once.Do(func() {
		close(b.jobs)
		b.wg.Wait()
	})
}
