package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memCounter is an in-process Counter standing in for Redis in these
// tests (the Redis one is tested against real Redis in package redis).
// gate, when set, blocks every Add until a value is received from it;
// delay, when set, adds a random latency up to it; fail makes Add fail.
type memCounter struct {
	mu     sync.Mutex
	counts map[string]int64
	adds   atomic.Int64
	gate   chan struct{}
	delay  time.Duration
	fail   atomic.Bool
}

func newMemCounter() *memCounter { return &memCounter{counts: make(map[string]int64)} }

func (c *memCounter) Add(ctx context.Context, key string, windowStart time.Time, per time.Duration, n int64) (int64, error) {
	c.adds.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if c.delay > 0 {
		time.Sleep(rand.N(c.delay))
	}
	if c.fail.Load() {
		return 0, errors.New("counter down")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key + ":" + strconv.FormatInt(windowStart.UnixNano(), 10) + ":" + per.String()
	c.counts[k] += n
	return c.counts[k], nil
}

func (c *memCounter) total(key string, windowStart time.Time, per time.Duration) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key+":"+strconv.FormatInt(windowStart.UnixNano(), 10)+":"+per.String()]
}

// syncClock is a clock safe for concurrent use.
type syncClock struct{ ns atomic.Int64 }

func newSyncClock(t time.Time) *syncClock {
	c := &syncClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *syncClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *syncClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// epoch is the start of a minute, hour and day.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustAllow(tb testing.TB, l Limiter, key string) Decision {
	tb.Helper()
	d, err := l.Allow(context.Background(), key)
	if err != nil {
		tb.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

func TestNewBatchedDefaults(t *testing.T) {
	tests := []struct {
		n, batch, want int
	}{
		{1, 0, 1}, {99, 0, 1}, {200, 0, 2}, {1000, 0, 10}, {1000, 7, 7},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n, "/", tt.batch), func(t *testing.T) {
			b := NewBatched(Rate{N: tt.n, Per: time.Hour}, newMemCounter(), BatchOptions{Batch: tt.batch})
			if got := b.Batch(); got != tt.want {
				t.Fatalf("Batch() = %d, want %d", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name    string
		rate    Rate
		counter Counter
	}{
		{"zero N", Rate{N: 0, Per: time.Second}, newMemCounter()},
		{"zero Per", Rate{N: 1}, newMemCounter()},
		{"nil counter", Rate{N: 1, Per: time.Second}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			NewBatched(tt.rate, tt.counter, BatchOptions{})
		})
	}
}

func TestBatchedSingleInstanceIsExact(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		batch int
	}{
		{"batch 1", 10, 1},
		{"batch 3", 10, 3},
		{"batch 4 divides", 12, 4},
		{"batch above N", 5, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSyncClock(epoch.Add(15 * time.Second))
			counter := newMemCounter()
			b := NewBatched(Rate{N: tt.n, Per: time.Minute}, counter, BatchOptions{Batch: tt.batch, Now: c.now})
			for i := range tt.n {
				if d := mustAllow(t, b, "u1"); !d.Allowed {
					t.Fatalf("request %d refused: %+v", i+1, d)
				}
			}
			for range 3 {
				if d := mustAllow(t, b, "u1"); d.Allowed || d.RetryAfter != 45*time.Second {
					t.Fatalf("over the limit: %+v, want refused with RetryAfter 45s", d)
				}
			}
			if err := b.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := counter.total("u1", epoch, time.Minute); got != int64(tt.n) {
				t.Fatalf("shared count %d, want %d", got, tt.n)
			}
			if got, want := counter.adds.Load(), int64((tt.n+tt.batch-1)/tt.batch); got > want {
				t.Errorf("%d Adds for %d requests in batches of %d, want at most %d", got, tt.n, tt.batch, want)
			}
			if d := mustAllow(t, b, "u2"); !d.Allowed {
				t.Fatal("another key was refused")
			}
		})
	}
}

func TestBatchedRetryAfterIsWindowEnd(t *testing.T) {
	tests := []struct {
		name string
		per  time.Duration
		at   time.Duration // into the window
		want time.Duration
	}{
		{"second, start", time.Second, 0, time.Second},
		{"minute, 15s in", time.Minute, 15 * time.Second, 45 * time.Second},
		{"minute, last ns", time.Minute, time.Minute - time.Nanosecond, time.Nanosecond},
		{"hour, 59m59s in", time.Hour, time.Hour - time.Second, time.Second},
		{"day, noon", 24 * time.Hour, 12 * time.Hour, 12 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSyncClock(epoch.Add(tt.at))
			b := NewBatched(Rate{N: 1, Per: tt.per}, newMemCounter(), BatchOptions{Now: c.now})
			mustAllow(t, b, "k")
			if d := mustAllow(t, b, "k"); d.Allowed || d.RetryAfter != tt.want {
				t.Fatalf("got %+v, want refused with RetryAfter %s", d, tt.want)
			}
		})
	}
}

func TestBatchedWindows(t *testing.T) {
	c := newSyncClock(epoch.Add(50 * time.Second))
	counter := newMemCounter()
	b := NewBatched(Rate{N: 3, Per: time.Minute}, counter, BatchOptions{Batch: 1, Now: c.now})
	for range 3 {
		mustAllow(t, b, "k")
	}
	if d := mustAllow(t, b, "k"); d.Allowed || d.RetryAfter != 10*time.Second {
		t.Fatalf("got %+v, want refused for 10s", d)
	}
	c.advance(10 * time.Second) // the next window: a fresh count
	for i := range 3 {
		if d := mustAllow(t, b, "k"); !d.Allowed {
			t.Fatalf("request %d of the new window refused: %+v", i+1, d)
		}
	}
	if d := mustAllow(t, b, "k"); d.Allowed || d.RetryAfter != time.Minute {
		t.Fatalf("got %+v, want refused for 1m", d)
	}
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, w := range []time.Time{epoch, epoch.Add(time.Minute)} {
		if got := counter.total("k", w, time.Minute); got != 3 {
			t.Errorf("window %s: shared count %d, want 3", w.Format(time.TimeOnly), got)
		}
	}
}

// TestBatchedSeesOtherInstances checks that what other instances counted
// is learned at each flush.
func TestBatchedSeesOtherInstances(t *testing.T) {
	c := newSyncClock(epoch)
	counter := newMemCounter()
	ctx := context.Background()
	if _, err := counter.Add(ctx, "k", epoch, time.Minute, 95); err != nil { // another instance's
		t.Fatal(err)
	}
	b := NewBatched(Rate{N: 100, Per: time.Minute}, counter, BatchOptions{Batch: 2, Now: c.now})
	admitted := 0
	for range 20 {
		if mustAllow(t, b, "k").Allowed {
			admitted++
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if admitted != 5 {
		t.Fatalf("admitted %d, want the 5 left by the other instance", admitted)
	}
}

// TestBatchedAllowDoesNoIO blocks the Counter: Allow must still answer at
// once for 2·Batch requests of a key (Batch in flight, Batch more), then
// wait for the flush rather than admit blind, and never wait for other
// keys.
func TestBatchedAllowDoesNoIO(t *testing.T) {
	counter := newMemCounter()
	counter.gate = make(chan struct{})
	const batch = 5
	b := NewBatched(Rate{N: 1000, Per: time.Hour}, counter, BatchOptions{
		Batch:        batch,
		FlushEvery:   time.Hour,   // no timed flush: only "hot" flushes
		FlushTimeout: time.Minute, // the held-back flush must not time out
		Now:          newSyncClock(epoch).now,
	})
	for i := range 2 * batch {
		if d := mustAllow(t, b, "hot"); !d.Allowed {
			t.Fatalf("request %d refused", i+1)
		}
	}
	for i := range 100 {
		if d := mustAllow(t, b, fmt.Sprint("other", i)); !d.Allowed {
			t.Fatal("another key refused")
		}
	}
	// The next request of "hot" waits for the flush in flight.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Allow(ctx, "hot"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Allow with 2·Batch unconfirmed: err %v, want it to wait until ctx ends", err)
	}
	result := make(chan Decision)
	go func() {
		d, err := b.Allow(context.Background(), "hot")
		if err != nil {
			t.Error(err)
		}
		result <- d
	}()
	select {
	case d := <-result:
		t.Fatalf("Allow returned %+v while the flush was blocked", d)
	case <-time.After(20 * time.Millisecond):
	}
	counter.gate <- struct{}{} // the flush of "hot" goes through
	if d := <-result; !d.Allowed {
		t.Fatalf("after the flush: %+v, want admitted", d)
	}
	close(counter.gate)
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := counter.total("hot", epoch, time.Hour); got != 2*batch+1 {
		t.Fatalf("shared count %d, want %d", got, 2*batch+1)
	}
}

// TestBatchedBoundIsTight builds the worst case: I cold instances whose
// first flush is held back each admit 2·Batch, which is N + 2·Batch·(I−1)
// when N = 2·Batch; nothing more passes once the flushes land.
func TestBatchedBoundIsTight(t *testing.T) {
	for _, tt := range []struct{ instances, batch int }{{2, 1}, {3, 5}, {5, 10}} {
		t.Run(fmt.Sprintf("I=%d,B=%d", tt.instances, tt.batch), func(t *testing.T) {
			counter := newMemCounter()
			counter.gate = make(chan struct{})
			rate := Rate{N: 2 * tt.batch, Per: time.Hour}
			clk := newSyncClock(epoch)
			var ls []*Batched
			for range tt.instances {
				ls = append(ls, NewBatched(rate, counter, BatchOptions{Batch: tt.batch, Now: clk.now}))
			}
			admitted := 0
			for _, l := range ls {
				for range 2 * tt.batch {
					if mustAllow(t, l, "k").Allowed {
						admitted++
					}
				}
			}
			close(counter.gate)
			for _, l := range ls {
				if err := l.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				for range 10 {
					if mustAllow(t, l, "k").Allowed {
						admitted++
					}
				}
			}
			if want := ls[0].MaxAdmitted(tt.instances); int64(admitted) != want {
				t.Fatalf("admitted %d, want exactly the bound %d", admitted, want)
			}
		})
	}
}

// TestBatchedBoundConcurrent runs instances sharing one Counter with a
// random latency, many goroutines each, and checks
// N ≤ admitted ≤ N + 2·Batch·(I−1).
func TestBatchedBoundConcurrent(t *testing.T) {
	tests := []struct {
		name                  string
		instances, n, batch   int
		goroutines, perWorker int
		delay                 time.Duration
	}{
		{"2 instances, batch 1", 2, 100, 1, 32, 20, 200 * time.Microsecond},
		{"2 instances, batch 10", 2, 1000, 10, 32, 100, 500 * time.Microsecond},
		{"4 instances, batch 5", 4, 500, 5, 16, 50, time.Millisecond},
		{"8 instances, batch 3", 8, 300, 3, 8, 40, 300 * time.Microsecond},
		{"2 instances, N/100 default", 2, 1000, 0, 32, 100, 200 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			counter := newMemCounter()
			counter.delay = tt.delay
			clk := newSyncClock(epoch)
			rate := Rate{N: tt.n, Per: time.Hour}
			var ls []*Batched
			for range tt.instances {
				ls = append(ls, NewBatched(rate, counter, BatchOptions{Batch: tt.batch, Now: clk.now}))
			}
			var admitted atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, l := range ls {
				for range tt.goroutines {
					wg.Go(func() {
						<-start
						for range tt.perWorker {
							d, err := l.Allow(context.Background(), "user:1")
							if err != nil {
								t.Error(err)
								return
							}
							if d.Allowed {
								admitted.Add(1)
							}
						}
					})
				}
			}
			close(start)
			wg.Wait()
			for _, l := range ls {
				if err := l.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			got, bound := admitted.Load(), ls[0].MaxAdmitted(tt.instances)
			demand := tt.instances * tt.goroutines * tt.perWorker
			t.Logf("admitted %d of %d; N %d, bound %d", got, demand, tt.n, bound)
			if got < int64(tt.n) || got > bound {
				t.Fatalf("admitted %d, want within [N=%d, N+2·B·(I−1)=%d]", got, tt.n, bound)
			}
			if shared := counter.total("user:1", epoch, time.Hour); shared != got {
				t.Fatalf("shared count %d, want the %d admitted", shared, got)
			}
		})
	}
}

func TestBatchedCounterDown(t *testing.T) {
	counter := newMemCounter()
	counter.fail.Store(true)
	var errs atomic.Int64
	b := NewBatched(Rate{N: 20, Per: time.Hour}, counter, BatchOptions{
		Batch:      2,
		FlushEvery: time.Hour, // retried by Flush only, in this test
		Now:        newSyncClock(epoch).now,
		OnError:    func(error) { errs.Add(1) },
	})
	admitted := 0
	for range 50 {
		d, err := b.Allow(context.Background(), "k")
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
		}
	}
	// Alone, the instance still enforces N.
	if admitted != 20 {
		t.Fatalf("admitted %d with the Counter down, want 20", admitted)
	}
	if err := b.Flush(context.Background()); err == nil {
		t.Fatal("Flush succeeded with the Counter down")
	}
	if errs.Load() == 0 {
		t.Fatal("OnError was not called")
	}
	counter.fail.Store(false)
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := counter.total("k", epoch, time.Hour); got != 20 {
		t.Fatalf("shared count %d after recovery, want the 20 kept", got)
	}
}

// TestBatchedFlushEvery checks that a count below Batch reaches the
// Counter within FlushEvery (real time, a short FlushEvery).
func TestBatchedFlushEvery(t *testing.T) {
	counter := newMemCounter()
	b := NewBatched(Rate{N: 1000, Per: time.Hour}, counter, BatchOptions{Batch: 100, FlushEvery: 10 * time.Millisecond, Now: newSyncClock(epoch).now})
	for range 3 {
		mustAllow(t, b, "k")
	}
	deadline := time.Now().Add(5 * time.Second)
	for counter.total("k", epoch, time.Hour) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("shared count %d after 5s, want 3", counter.total("k", epoch, time.Hour))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *Batched) entries() int {
	n := 0
	for i := range b.shards {
		b.shards[i].mu.Lock()
		n += len(b.shards[i].m)
		b.shards[i].mu.Unlock()
	}
	return n
}

func TestBatchedEvictsIdleKeys(t *testing.T) {
	c := newSyncClock(epoch)
	b := NewBatched(Rate{N: 1 << 30, Per: time.Minute}, newMemCounter(), BatchOptions{Batch: 1 << 20, FlushEvery: time.Hour, Now: c.now})
	const keys = 10_000
	for i := range keys {
		mustAllow(t, b, fmt.Sprint("user", i))
	}
	if got := b.entries(); got != keys {
		t.Fatalf("%d entries, want %d", got, keys)
	}
	c.advance(time.Minute)
	// A shard sweeps once per batchSweepEvery calls on it: one fresh key
	// per shard, batchSweepEvery calls each.
	fresh := make(map[*batchShard]string)
	for i := 0; len(fresh) < batchShards; i++ {
		k := fmt.Sprint("fresh", i)
		if _, ok := fresh[b.shard(k)]; !ok {
			fresh[b.shard(k)] = k
		}
	}
	for _, k := range fresh {
		for range batchSweepEvery {
			mustAllow(t, b, k)
		}
	}
	if got := b.entries(); got != batchShards {
		t.Fatalf("%d entries after the window, want the %d active keys", got, batchShards)
	}
}

// BenchmarkBatchedAllow shows that Allow does no I/O: the Counter is
// called once per Batch requests, from a goroutine (adds/op), and Allow
// itself costs a map access under a sharded mutex.
func BenchmarkBatchedAllow(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
		keys  int
	}{
		{"1key/batch=default", 0, 1},
		{"1key/batch=100", 100, 1},
		{"10000keys/batch=default", 0, 10_000},
		{"10000keys/batch=10", 10, 10_000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			counter := newMemCounter()
			l := NewBatched(Rate{N: 1 << 40, Per: time.Hour}, counter, BatchOptions{Batch: bc.batch})
			keys := make([]string, bc.keys)
			for i := range keys {
				keys[i] = "user:" + strconv.Itoa(i)
			}
			ctx := context.Background()
			var refused atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.N(len(keys))
				for pb.Next() {
					if d, err := l.Allow(ctx, keys[i]); err != nil || !d.Allowed {
						refused.Add(1)
					}
					if i++; i == len(keys) {
						i = 0
					}
				}
			})
			b.StopTimer()
			if n := refused.Load(); n > 0 {
				b.Fatalf("%d requests refused", n)
			}
			b.ReportMetric(float64(counter.adds.Load())/float64(b.N), "adds/op")
		})
	}
}
