package groupcommit_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/groupcommit"
)

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
			// Each call's outcome is the size of the batch it ran in.
			b := groupcommit.New(tt.max, func(batch []*groupcommit.Call[int, int]) {
				if r := running.Add(1); r > 1 {
					t.Errorf("%d batches run at once, want one", r)
				}
				// Hold the first batch until every request is queued, so
				// that the next ones are full.
				once.Do(func() { <-release })
				if len(batch) > tt.max {
					t.Errorf("batch of %d, want at most %d", len(batch), tt.max)
				}
				for _, c := range batch {
					ran.Add(1)
					c.Out = len(batch)
				}
				running.Add(-1)
			})
			defer b.Close()
			sizes := make([]int, tt.n)
			var wg sync.WaitGroup
			for i := range sizes {
				wg.Go(func() {
					var err error
					if sizes[i], err = b.Do(context.Background(), i); err != nil {
						t.Error(err)
					}
				})
			}
			// Do blocks once the queue is full: release the first batch
			// while the callers may still wait.
			close(release)
			wg.Wait()
			biggest := slices.Max(sizes)
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
	b := groupcommit.New(4, func(batch []*groupcommit.Call[int, struct{}]) {
		if ran.Add(int64(len(batch))) == int64(len(batch)) {
			close(started)
			<-release
		}
	})
	ctx := context.Background()
	if _, err := b.Submit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	<-started // the worker holds the first request
	for i := 1; i <= 10; i++ {
		if _, err := b.Submit(ctx, i); err != nil {
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
	if _, err := b.Submit(ctx, 12); !errors.Is(err, groupcommit.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

func TestSubmitGivesUpWithItsContext(t *testing.T) {
	release := make(chan struct{})
	b := groupcommit.New(1, func([]*groupcommit.Call[int, struct{}]) { <-release })
	defer b.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The queue takes 4 per batch size; the worker holds one.
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = b.Submit(ctx, i)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Submit to a full queue with an ended context: %v, want context.Canceled", err)
	}
}

func TestDoWaitsForItsBatch(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	boom := errors.New("boom")
	b := groupcommit.New(4, func(batch []*groupcommit.Call[int, int]) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		for _, c := range batch {
			if c.In < 0 {
				c.Err = boom
			} else {
				c.Out = 10 * c.In
			}
		}
	})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	first, err := b.Submit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	<-started // the call runs; its caller gives up waiting
	cancel()
	if _, err := first.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with an ended context: %v, want context.Canceled", err)
	}
	close(release) // the first call still runs
	if out, err := first.Wait(context.Background()); out != 10 || err != nil {
		t.Fatalf("first call: %d, %v; want 10", out, err)
	}
	if out, err := b.Do(context.Background(), 2); out != 20 || err != nil {
		t.Errorf("Do(2) = %d, %v; want 20", out, err)
	}
	if _, err := b.Do(context.Background(), -1); !errors.Is(err, boom) {
		t.Errorf("Do(-1): %v, want the call's own error", err)
	}
}

// A holding Batcher makes one batch of a wave of callers, and a lone
// caller waits for company once, not on every call.
func TestHoldingBatchesWaves(t *testing.T) {
	const hold = 2 * time.Second
	var sizes []int
	var mu sync.Mutex
	first := make(chan struct{})
	release := make(chan struct{})
	b := groupcommit.NewHolding(8, hold, func(batch []*groupcommit.Call[int, int]) {
		mu.Lock()
		sizes = append(sizes, len(batch))
		n := len(sizes)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release
		}
		for _, c := range batch {
			c.Out = len(batch)
		}
	})
	defer b.Close()
	ctx := context.Background()
	wave := func(n int, spread time.Duration) []int {
		out := make([]int, n)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() {
				var err error
				if out[i], err = b.Do(ctx, i); err != nil {
					t.Error(err)
				}
			})
			time.Sleep(spread)
		}
		wg.Wait()
		return out
	}

	// A batch of one, then three that came while it ran: the batch
	// before the next is three.
	go wave(1, 0)
	<-first
	calls := make([]*groupcommit.Call[int, int], 3)
	for i := range calls {
		var err error
		if calls[i], err = b.Submit(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	for _, c := range calls {
		if got, _ := c.Wait(ctx); got != 3 {
			t.Fatalf("the three queued behind the first ran in a batch of %d", got)
		}
	}

	// A wave of three spread over 40 ms: one batch, run as soon as the
	// third came, long before the hold ends.
	start := time.Now()
	for i, got := range wave(3, 20*time.Millisecond) {
		if got != 3 {
			t.Errorf("call %d of the wave ran in a batch of %d, want 3", i, got)
		}
	}
	if took := time.Since(start); took >= hold/2 {
		t.Errorf("the wave took %v: it waited for the hold", took)
	}

	// A lone caller waits the hold out once; the next runs at once.
	start = time.Now()
	if got := wave(1, 0); got[0] != 1 {
		t.Errorf("a lone call ran in a batch of %d", got[0])
	}
	if took := time.Since(start); took < hold {
		t.Errorf("the first lone call took %v, want the hold (%v)", took, hold)
	}
	start = time.Now()
	wave(1, 0)
	if took := time.Since(start); took >= hold/2 {
		t.Errorf("the second lone call took %v: it waited again", took)
	}
}
