package redis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/redis"
)

// recorder is a latch.RevocationListener that records what it is told.
type recorder struct {
	mu        sync.Mutex
	events    []string // "connected", "deliver", "disconnected", in order
	delivered chan latch.Revocation
	connected chan struct{}
	dropped   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{
		delivered: make(chan latch.Revocation, 1024),
		connected: make(chan struct{}, 16),
		dropped:   make(chan struct{}, 16),
	}
}

func (r *recorder) event(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) Deliver(rev latch.Revocation) { r.event("deliver"); r.delivered <- rev }
func (r *recorder) Connected()                   { r.event("connected"); r.connected <- struct{}{} }
func (r *recorder) Disconnected()                { r.event("disconnected"); r.dropped <- struct{}{} }

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func waitFor[T any](tb testing.TB, ch <-chan T, d time.Duration, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		tb.Fatalf("no %s within %s", what, d)
		panic("unreachable")
	}
}

// subscription runs bus.Subscribe in the background.
type subscription struct {
	done     chan error    // receives Subscribe's result
	finished chan struct{} // closed when Subscribe has returned
}

func subscribe(tb testing.TB, bus *redis.Bus, l latch.RevocationListener) *subscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{done: make(chan error, 1), finished: make(chan struct{})}
	go func() {
		s.done <- bus.Subscribe(ctx, l)
		close(s.finished)
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-s.finished:
		case <-time.After(5 * time.Second):
			tb.Error("Subscribe did not return within 5s of its context's end")
		}
	})
	return s
}

func TestBusRoundTrip(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		channel := "latch:test:bus:" + unique()
		sub := redis.NewBus(mustOpen(t, tg), channel)
		pub := redis.NewBus(mustOpen(t, tg), channel)
		rec := newRecorder()
		subscribe(t, sub, rec)
		waitFor(t, rec.connected, 5*time.Second, "Connected")

		until := time.UnixMilli(1_700_000_000_123)
		tests := []struct {
			name string
			in   latch.Revocation
			want latch.Revocation
		}{
			{
				name: "session",
				in:   latch.Revocation{SessionID: "s-1", Until: until},
				want: latch.Revocation{SessionID: "s-1", Until: until},
			},
			{
				name: "session, sub-millisecond until",
				in:   latch.Revocation{SessionID: "s-2", Until: until.Add(999 * time.Microsecond)},
				want: latch.Revocation{SessionID: "s-2", Until: until},
			},
			{
				name: "token version",
				in:   latch.Revocation{Version: latch.TokenVersion{UserID: 42, Version: 7}},
				want: latch.Revocation{Version: latch.TokenVersion{UserID: 42, Version: 7}},
			},
			{
				name: "token version keeping a session",
				in:   latch.Revocation{Version: latch.TokenVersion{UserID: 1 << 53, Version: 1, KeepSession: "keep-é"}},
				want: latch.Revocation{Version: latch.TokenVersion{UserID: 1 << 53, Version: 1, KeepSession: "keep-é"}},
			},
			{
				name: "both",
				in:   latch.Revocation{SessionID: "s-3", Until: until, Version: latch.TokenVersion{UserID: 3, Version: 2, KeepSession: "s-4"}},
				want: latch.Revocation{SessionID: "s-3", Until: until, Version: latch.TokenVersion{UserID: 3, Version: 2, KeepSession: "s-4"}},
			},
			{
				name: "a changed user",
				in:   latch.Revocation{UserChanged: 1 << 53},
				want: latch.Revocation{UserChanged: 1 << 53},
			},
		}
		for _, tt := range tests {
			if err := pub.Publish(context.Background(), tt.in); err != nil {
				t.Fatalf("%s: Publish: %v", tt.name, err)
			}
			got := waitFor(t, rec.delivered, 5*time.Second, tt.name+" delivery")
			if got.SessionID != tt.want.SessionID || !got.Until.Equal(tt.want.Until) || got.Version != tt.want.Version || got.UserChanged != tt.want.UserChanged {
				t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
			}
		}
		if got := rec.Events(); got[0] != "connected" || slices.Contains(got, "disconnected") {
			t.Errorf("events %v: want connected first, no disconnected", got)
		}
	})
}

func TestBusPublishRejectsEmptyRevocation(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		bus := redis.NewBus(mustOpen(t, tg), "latch:test:bus:"+unique())
		if err := bus.Publish(context.Background(), latch.Revocation{}); err == nil {
			t.Fatal("Publish of an empty revocation succeeded, want an error")
		}
	})
}

func TestBusIgnoresMalformedMessages(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		channel := "latch:test:bus:" + unique()
		client := mustOpen(t, tg)
		sub := redis.NewBus(mustOpen(t, tg), channel)
		rec := newRecorder()
		s := subscribe(t, sub, rec)
		waitFor(t, rec.connected, 5*time.Second, "Connected")

		ctx := context.Background()
		for _, payload := range []string{
			"",
			"not json",
			"[1,2,3]",
			"null",
			"{}",
			`{"sid":"s"}`,     // no until
			`{"user":"abc"}`,  // wrong type
			`{"until":12345}`, // neither sid nor user
			`{"sid":1,"until":1}`,
			"\xff\xfe",
			strings.Repeat("{", 10000),
		} {
			if err := client.Publish(ctx, channel, payload).Err(); err != nil {
				t.Fatal(err)
			}
		}
		want := latch.Revocation{SessionID: "ok", Until: time.UnixMilli(5)}
		if err := redis.NewBus(client, channel).Publish(ctx, want); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, rec.delivered, 5*time.Second, "the valid message")
		if got.SessionID != want.SessionID || !got.Until.Equal(want.Until) {
			t.Fatalf("got %+v, want %+v (malformed messages must be skipped)", got, want)
		}
		select {
		case err := <-s.done:
			t.Fatalf("Subscribe returned after malformed messages: %v", err)
		default:
		}
	})
}

// killPubSub kills the pub/sub connections named name (CLIENT KILL ID),
// on whichever node holds them; it returns how many it killed.
func killPubSub(tb testing.TB, admin goredis.UniversalClient, name string) int {
	tb.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	killed := 0
	err := forEachMaster(ctx, admin, func(ctx context.Context, n *goredis.Client) error {
		list, err := n.ClientList(ctx).Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(list, "\n") {
			f := fields(line)
			if f["name"] != name || f["sub"] == "" || f["sub"] == "0" {
				continue
			}
			id, _ := strconv.ParseInt(f["id"], 10, 64)
			if err := n.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Err(); err != nil {
				return err
			}
			mu.Lock()
			killed++
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("kill pub/sub connections: %v", err)
	}
	return killed
}

func fields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestBusDetectsKilledConnection(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		channel := "latch:test:bus:" + unique()
		name := "latch-test-" + unique()
		sub := redis.NewBus(mustOpenNamed(t, tg, name), channel)
		admin := mustOpen(t, tg)
		pub := redis.NewBus(admin, channel)
		rec := newRecorder()
		s := subscribe(t, sub, rec)
		waitFor(t, rec.connected, 5*time.Second, "Connected")

		if n := killPubSub(t, admin, name); n != 1 {
			t.Fatalf("killed %d pub/sub connections named %s, want 1", n, name)
		}
		killed := time.Now()
		waitFor(t, rec.dropped, 3*time.Second, "Disconnected after CLIENT KILL")
		err := waitFor(t, s.done, 3*time.Second, "Subscribe's return after CLIENT KILL")
		t.Logf("break noticed in %s: %v", time.Since(killed).Round(time.Millisecond), err)
		if !errors.Is(err, redis.ErrSubscriptionBroken) {
			t.Errorf("Subscribe returned %v, want ErrSubscriptionBroken", err)
		}

		// Subscribing again (what revocation.Manager does) reconnects.
		subscribe(t, sub, rec)
		waitFor(t, rec.connected, 5*time.Second, "Connected after re-subscribing")
		want := latch.Revocation{SessionID: "after", Until: time.UnixMilli(1)}
		if err := pub.Publish(context.Background(), want); err != nil {
			t.Fatal(err)
		}
		if got := waitFor(t, rec.delivered, 5*time.Second, "delivery after re-subscribing"); got.SessionID != want.SessionID {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		if got, want := rec.Events(), []string{"connected", "disconnected", "connected", "deliver"}; !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}

func TestBusStopsWithContext(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		bus := redis.NewBus(mustOpen(t, tg), "latch:test:bus:"+unique())
		rec := newRecorder()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- bus.Subscribe(ctx, rec) }()
		waitFor(t, rec.connected, 5*time.Second, "Connected")
		cancel()
		if err := waitFor(t, done, time.Second, "Subscribe's return after cancel"); !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe returned %v, want context.Canceled", err)
		}
		if got, want := rec.Events(), []string{"connected", "disconnected"}; !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}

func TestBusSubscribeFailsWhenUnreachable(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: Subscribe must fail, not hang, and never
	// report Connected.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer client.Close()
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := redis.NewBus(client, "").Subscribe(ctx, rec); err == nil || ctx.Err() != nil {
		t.Fatalf("Subscribe = %v (ctx %v), want a connection error", err, ctx.Err())
	}
	if got := rec.Events(); len(got) != 0 {
		t.Errorf("events %v, want none", got)
	}
}

// blackhole is a TCP proxy to a Redis server that can stop forwarding
// without closing anything: the connection then looks alive but is dead,
// as after a network partition or a frozen server.
type blackhole struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen bool
	thaw   chan struct{}
	conns  []net.Conn
}

func newBlackhole(tb testing.TB, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target, thaw: make(chan struct{})}
	go b.serve()
	tb.Cleanup(b.close)
	return b
}

func (b *blackhole) Addr() string { return b.ln.Addr().String() }

func (b *blackhole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", b.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		b.mu.Lock()
		b.conns = append(b.conns, c, u)
		b.mu.Unlock()
		go b.pipe(c, u)
		go b.pipe(u, c)
	}
}

func (b *blackhole) pipe(dst, src net.Conn) {
	defer dst.Close()
	rd := bufio.NewReader(src)
	buf := make([]byte, 32<<10)
	for {
		n, err := rd.Read(buf)
		if n > 0 {
			b.mu.Lock()
			frozen, thaw := b.frozen, b.thaw
			b.mu.Unlock()
			if frozen {
				<-thaw // hold the bytes: nothing gets through
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			return
		}
	}
}

func (b *blackhole) freeze() {
	b.mu.Lock()
	b.frozen = true
	b.mu.Unlock()
}

func (b *blackhole) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	if b.frozen {
		b.frozen = false
		close(b.thaw)
	}
	for _, c := range b.conns {
		_ = c.Close()
	}
	b.mu.Unlock()
}

func TestBusDetectsSilentlyDeadConnection(t *testing.T) {
	t.Parallel()
	url := needEnv(t, "LATCH_TEST_REDIS_URL", true)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	bh := newBlackhole(t, opts.Addr)
	opts.Addr = bh.Addr()
	client := goredis.NewClient(opts)
	defer client.Close()

	hc := 300 * time.Millisecond
	bus := redis.NewBusWithOptions(client, redis.BusOptions{Channel: "latch:test:bus:" + unique(), HealthCheck: hc})
	rec := newRecorder()
	s := subscribe(t, bus, rec)
	waitFor(t, rec.connected, 5*time.Second, "Connected")
	time.Sleep(3 * hc) // a few health checks on a healthy connection: no break
	select {
	case err := <-s.done:
		t.Fatalf("Subscribe returned on a healthy connection: %v", err)
	default:
	}

	bh.freeze()
	frozen := time.Now()
	waitFor(t, rec.dropped, 3*time.Second, "Disconnected after the connection went silent")
	err = waitFor(t, s.done, time.Second, "Subscribe's return")
	took := time.Since(frozen)
	t.Logf("silent death noticed in %s (health check %s): %v", took.Round(time.Millisecond), hc, err)
	if !errors.Is(err, redis.ErrSubscriptionBroken) {
		t.Errorf("Subscribe returned %v, want ErrSubscriptionBroken", err)
	}
	if took > 3*hc+500*time.Millisecond {
		t.Errorf("noticed after %s, want within about 2 × %s", took, hc)
	}
}

func TestBusLatency(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		channel := "latch:test:bus:" + unique()
		sub := redis.NewBus(mustOpen(t, tg), channel)
		pub := redis.NewBus(mustOpen(t, tg), channel)
		rec := newRecorder()
		subscribe(t, sub, rec)
		waitFor(t, rec.connected, 5*time.Second, "Connected")

		const warmup, n = 20, 200
		lat := make([]time.Duration, 0, n)
		ctx := context.Background()
		for i := range warmup + n {
			sid := fmt.Sprint("lat-", i)
			start := time.Now()
			if err := pub.Publish(ctx, latch.Revocation{SessionID: sid, Until: start}); err != nil {
				t.Fatal(err)
			}
			got := waitFor(t, rec.delivered, 5*time.Second, "delivery")
			if i >= warmup {
				lat = append(lat, time.Since(start))
			}
			if got.SessionID != sid {
				t.Fatalf("got %s, want %s (order)", got.SessionID, sid)
			}
		}
		slices.Sort(lat)
		t.Logf("%s: publish→deliver over %d messages (after %d to warm up): p50 %s, p99 %s, max %s",
			tg.name, n, warmup, lat[n/2], lat[n*99/100], lat[n-1])
	})
}
