package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestGuardPolicyWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   GuardPolicy
		want GuardPolicy
	}{
		{"zero", GuardPolicy{}, GuardPolicy{Free: 5, Base: time.Second, Max: time.Minute, Forget: 15 * time.Minute}},
		{"negative", GuardPolicy{Free: -1, Base: -1, Max: -1, Forget: -1}, GuardPolicy{Free: 5, Base: time.Second, Max: time.Minute, Forget: 15 * time.Minute}},
		{"kept", GuardPolicy{Free: 1, Base: time.Millisecond, Max: time.Second, Forget: time.Hour}, GuardPolicy{Free: 1, Base: time.Millisecond, Max: time.Second, Forget: time.Hour}},
		{"max below base", GuardPolicy{Base: 10 * time.Second, Max: time.Second}, GuardPolicy{Free: 5, Base: 10 * time.Second, Max: 10 * time.Second, Forget: 15 * time.Minute}},
		{"forget below max", GuardPolicy{Max: time.Hour, Forget: time.Minute}, GuardPolicy{Free: 5, Base: time.Second, Max: time.Hour, Forget: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.WithDefaults(); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGuardPolicyDelay(t *testing.T) {
	def := GuardPolicy{}.WithDefaults()
	custom := GuardPolicy{Free: 1, Base: 100 * time.Millisecond, Max: time.Second}.WithDefaults()
	tests := []struct {
		name     string
		p        GuardPolicy
		failures int
		want     time.Duration
	}{
		{"default 0", def, 0, 0},
		{"default 4", def, 4, 0},
		{"default 5", def, 5, time.Second},
		{"default 6", def, 6, 2 * time.Second},
		{"default 7", def, 7, 4 * time.Second},
		{"default 10", def, 10, 32 * time.Second},
		{"default 11 capped", def, 11, time.Minute},
		{"default 1000 capped", def, 1000, time.Minute},
		{"default huge capped", def, 1 << 40, time.Minute},
		{"custom 0", custom, 0, 0},
		{"custom 1", custom, 1, 100 * time.Millisecond},
		{"custom 4", custom, 4, 800 * time.Millisecond},
		{"custom 5 capped", custom, 5, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Delay(tt.failures); got != tt.want {
				t.Fatalf("Delay(%d) = %s, want %s", tt.failures, got, tt.want)
			}
		})
	}
}

// guardStep is one step of a scenario: advance the clock, then do op and
// check Wait.
type guardStep struct {
	advance  time.Duration
	op       string // "fail", "reset" or "" (just Wait)
	account  string // default "alice"
	wantWait time.Duration
}

func runGuardSteps(t *testing.T, p GuardPolicy, steps []guardStep) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g := NewMemoryGuard(p, c.now)
	ctx := context.Background()
	for i, s := range steps {
		c.t = c.t.Add(s.advance)
		acct := s.account
		if acct == "" {
			acct = "alice"
		}
		switch s.op {
		case "fail":
			if err := g.Fail(ctx, acct); err != nil {
				t.Fatal(err)
			}
		case "reset":
			if err := g.Reset(ctx, acct); err != nil {
				t.Fatal(err)
			}
		}
		got, err := g.Wait(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.wantWait {
			t.Fatalf("step %d (+%s %s %s): Wait = %s, want %s", i, s.advance, s.op, acct, got, s.wantWait)
		}
	}
}

func TestMemoryGuard(t *testing.T) {
	p := GuardPolicy{Free: 3, Base: time.Second, Max: 8 * time.Second, Forget: time.Hour}
	tests := []struct {
		name  string
		steps []guardStep
	}{
		{"backoff grows 1,2,4,8 and is capped", []guardStep{
			{op: "fail"}, {op: "fail"},
			{op: "fail", wantWait: time.Second},
			{advance: 400 * time.Millisecond, wantWait: 600 * time.Millisecond},
			{advance: 600 * time.Millisecond, wantWait: 0},
			{op: "fail", wantWait: 2 * time.Second},
			{advance: 2 * time.Second, op: "fail", wantWait: 4 * time.Second},
			{advance: 4 * time.Second, op: "fail", wantWait: 8 * time.Second},
			{advance: 8 * time.Second, op: "fail", wantWait: 8 * time.Second},
			{advance: 8 * time.Second, op: "fail", wantWait: 8 * time.Second},
			{advance: 7 * time.Second, wantWait: time.Second},
			{advance: time.Second, wantWait: 0},
		}},
		{"counted from the last failure", []guardStep{
			{op: "fail"}, {op: "fail"}, {op: "fail", wantWait: time.Second},
			{advance: 10 * time.Second, wantWait: 0},
			{op: "fail", wantWait: 2 * time.Second},
		}},
		{"reset on success", []guardStep{
			{op: "fail"}, {op: "fail"}, {op: "fail", wantWait: time.Second}, {op: "fail", wantWait: 2 * time.Second},
			{op: "reset", wantWait: 0},
			// The count starts again: Free more failures are free.
			{op: "fail"}, {op: "fail"}, {op: "fail", wantWait: time.Second},
		}},
		{"forgotten after Forget", []guardStep{
			{op: "fail"}, {op: "fail"}, {op: "fail", wantWait: time.Second},
			{op: "fail", wantWait: 2 * time.Second}, {op: "fail", wantWait: 4 * time.Second},
			{advance: time.Hour - time.Nanosecond, wantWait: 0},
			{op: "fail", wantWait: 8 * time.Second}, // not yet forgotten: 6th failure
			{advance: time.Hour, wantWait: 0},
			{op: "fail", wantWait: 0}, // forgotten: the 1st failure again
			{op: "fail", wantWait: 0},
			{op: "fail", wantWait: time.Second},
		}},
		{"an opening is claimed once in back-off", []guardStep{
			{op: "fail"}, {op: "fail"}, {op: "fail", wantWait: time.Second},
			{advance: time.Second, wantWait: 0}, // claims the opening
			{wantWait: time.Second},             // a concurrent attempt waits
			{advance: 500 * time.Millisecond, wantWait: 500 * time.Millisecond},
			// The claimant never reported: the next opening comes
			// after the same wait, not a longer one.
			{advance: 500 * time.Millisecond, wantWait: 0},
			{op: "reset", wantWait: 0},
			{wantWait: 0}, // after a success, no claim
		}},
		{"no claim before back-off", []guardStep{
			{op: "fail"}, {wantWait: 0}, {wantWait: 0}, {op: "fail", wantWait: 0}, {wantWait: 0},
		}},
		{"accounts are independent", []guardStep{
			{op: "fail"}, {op: "fail"}, {op: "fail", wantWait: time.Second},
			{account: "bob", wantWait: 0},
			{account: "bob", op: "fail", wantWait: 0},
			{wantWait: time.Second},
			{account: "bob", op: "reset", wantWait: 0},
			{wantWait: time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runGuardSteps(t, p, tt.steps) })
	}
}

// TestMemoryGuardNoPermanentLockout plays an attacker who fails at every
// opening for a day: the account still opens at least once per Max.
func TestMemoryGuardNoPermanentLockout(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	p := GuardPolicy{}.WithDefaults()
	g := NewMemoryGuard(p, c.now)
	ctx := context.Background()
	attempts := 0
	for end := c.t.Add(24 * time.Hour); c.t.Before(end); {
		w, _ := g.Wait(ctx, "victim")
		if w > p.Max {
			t.Fatalf("after %d failures: Wait %s > Max %s", attempts, w, p.Max)
		}
		c.t = c.t.Add(w) // the attacker retries the instant it may
		if w, _ := g.Wait(ctx, "victim"); w != 0 {
			t.Fatalf("after waiting: Wait %s, want 0", w)
		}
		// The owner, a moment later, finds the opening taken, for at
		// most Max.
		if w, _ := g.Wait(ctx, "victim"); w > p.Max {
			t.Fatalf("owner: Wait %s > Max %s", w, p.Max)
		}
		_ = g.Fail(ctx, "victim")
		attempts++
	}
	// 5 free, then 1+2+4+8+16+32 s, then one a minute.
	if maxWant := 5 + 6 + 24*60; attempts > maxWant {
		t.Fatalf("attacker made %d attempts in a day, want at most %d", attempts, maxWant)
	}
	t.Logf("attacker attempts in 24h: %d", attempts)
}

func TestMemoryGuardEvicts(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g := NewMemoryGuard(GuardPolicy{Forget: time.Minute}, c.now)
	ctx := context.Background()
	for i := range 10_000 {
		_ = g.Fail(ctx, fmt.Sprint("user", i))
	}
	c.t = c.t.Add(time.Minute)
	for range 1024 {
		_, _ = g.Wait(ctx, "someone")
	}
	g.mu.Lock()
	n := len(g.m)
	g.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d entries left after Forget, want 0", n)
	}
	// Growth alone triggers a sweep too: steady failures on fresh
	// accounts never keep more than about the last Forget's worth.
	for i := range 10_000 {
		c.t = c.t.Add(time.Second) // 60 accounts per Forget
		_ = g.Fail(ctx, fmt.Sprint("spray", i))
	}
	g.mu.Lock()
	n = len(g.m)
	g.mu.Unlock()
	if n > 2*60+64 {
		t.Fatalf("%d entries kept, want at most %d", n, 2*60+64)
	}
}

func TestMemoryGuardConcurrent(t *testing.T) {
	g := NewMemoryGuard(GuardPolicy{Free: 100, Base: time.Second, Max: time.Hour}, nil)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _ = g.Fail(context.Background(), "k") })
	}
	wg.Wait()
	// Exactly 100 failures: the wait is Base (Free failures reached).
	if w, _ := g.Wait(context.Background(), "k"); w <= 0 || w > time.Second {
		t.Fatalf("Wait = %s after 100 concurrent failures, want (0, 1s]", w)
	}
}

// The login flow around a Guard: ask Wait first, refuse without checking
// the password while it is not zero, then report the outcome.
func ExampleMemoryGuard() {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	guard := NewMemoryGuard(GuardPolicy{Free: 3, Base: time.Second, Max: time.Minute}, c.now)
	ctx := context.Background()
	login := func(password string) string {
		account := "alice" // the case-folded username
		if wait, _ := guard.Wait(ctx, account); wait > 0 {
			return fmt.Sprintf("429, retry in %s", wait)
		}
		if password != "s3cret" {
			_ = guard.Fail(ctx, account)
			return "401"
		}
		_ = guard.Reset(ctx, account)
		return "200"
	}
	for _, pw := range []string{"a", "b", "c", "d"} {
		fmt.Println(login(pw))
	}
	c.t = c.t.Add(time.Second)
	fmt.Println(login("e"))
	fmt.Println(login("s3cret"))
	c.t = c.t.Add(2 * time.Second)
	fmt.Println(login("s3cret"))
	// Output:
	// 401
	// 401
	// 401
	// 429, retry in 1s
	// 401
	// 429, retry in 2s
	// 200
}
