package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latch-auth/latch/internal/groupcommit"
)

type req struct {
	n    int
	done chan int // the size of the batch req ran in
}

func TestBatcher(t *testing.T) {
	tests := []struct {
		name             string
		max, n           int
		wantSomeBatching bool
	}{
		{"batches of up to 8", 8, 2000, true},
		{"batches of one", 1, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var running, ran atomic.Int64
			release := make(chan struct{})
			var once sync.Once
			b := groupcommit.New(tt.max, func(batch []*req) {
				if r := running.Add(1); r > 1 {
					t.Errorf("%d batches run at once, want one", r)
				}
				// Hold the first batch until every request is queued, so
				// that the next ones are full.
				once.Do(func() { <-release })
				if len(batch) > tt.max {
					t.Errorf("batch of %d, want at most %d", len(batch), tt.max)
				}
				for _, r := range batch {
					ran.Add(1)
					r.done <- len(batch)
				}
				running.Add(-1)
			})
			defer b.Close()
			reqs := make([]*req, tt.n)
			for i := range reqs {
				reqs[i] = &req{n: i, done: make(chan int, 1)}
			}
			var wg sync.WaitGroup
			for _, r := range reqs {
				wg.Go(func() {
					if err := b.Submit(context.Background(), r); err != nil {
						t.Error(err)
					}
				})
			}
			// Submit blocks once the queue is full: release the first batch
			// while the submitters may still wait.
			close(release)
			wg.Wait()
			biggest := 0
			for _, r := range reqs {
				biggest = max(biggest, <-r.done)
			}
			if got := ran.Load(); got != int64(tt.n) {
				t.Errorf("%d requests ran, want %d", got, tt.n)
			}
			if tt.wantSomeBatching && biggest < 2 {
				t.Errorf("no batch held more than one request")
			}
		})
	}
}

func TestCloseRunsWhatIsQueued(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var ran atomic.Int64
	b := groupcommit.New(4, func(batch []int) {
		if ran.Add(int64(len(batch))) == int64(len(batch)) {
			close(started)
			<-release
		}
	})
	ctx := context.Background()
	if err := b.Submit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	<-started // the worker holds the first request
	for i := 1; i <= 10; i++ {
		if err := b.Submit(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	close(release)
	<-closed
	if got := ran.Load(); got != 11 {
		t.Errorf("%d requests ran before Close returned, want 11", got)
	}
	if err := b.Submit(ctx, 12); !errors.Is(err, groupcommit.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

func TestSubmitGivesUpWithItsContext(t *testing.T) {
	release := make(chan struct{})
	b := groupcommit.New(1, func([]int) { <-release })
	defer b.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The queue takes 4 per batch size; the worker holds one.
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = b.Submit(ctx, i)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Submit to a full queue with an ended context: %v, want context.Canceled", err)
	}
}

func TestDoWaitsForItsBatch(t *testing.T) {
	type job struct {
		n    int
		done chan struct{}
	}
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	b := groupcommit.New(4, func(batch []*job) {
		started <- struct{}{}
		<-release
		for _, j := range batch {
			close(j.done)
		}
	})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	first := &job{n: 1, done: make(chan struct{})}
	gaveUp := make(chan error)
	go func() { gaveUp <- b.Do(ctx, first, first.done) }()
	<-started // the job runs; its caller gives up waiting
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with an ended context: %v, want context.Canceled", err)
	}
	close(release) // the first job still runs
	<-first.done
	second := &job{n: 2, done: make(chan struct{})}
	if err := b.Do(context.Background(), second, second.done); err != nil {
		t.Fatalf("Do: %v", err)
	}
	select {
	case <-second.done:
	default:
		t.Error("Do returned before the job's batch ran")
	}
}
