package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// down is a shared backend that cannot be reached.
type down struct{}

var errDown = errors.New("backend down")

func (down) Allow(context.Context, string) (Decision, error)     { return Decision{}, errDown }
func (down) Wait(context.Context, string) (time.Duration, error) { return 0, errDown }
func (down) Fail(context.Context, string) error                  { return errDown }
func (down) Reset(context.Context, string) error                 { return errDown }

func TestFallback(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	rate := Rate{N: 2, Per: time.Minute}
	tests := []struct {
		name       string
		primary    Limiter
		wantErrors int
	}{
		{"primary answers", NewMemory(rate, clock), 0},
		{"primary down: counted in process", down{}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := 0
			f := &Fallback{Primary: tt.primary, Secondary: NewMemory(rate, clock), OnError: func(error) { errs++ }}
			var got []bool
			for range 3 {
				d, err := f.Allow(context.Background(), "k")
				if err != nil {
					t.Fatalf("Allow: %v", err)
				}
				got = append(got, d.Allowed)
			}
			if want := []bool{true, true, false}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
				t.Errorf("allowed %v, want %v: the rate holds either way", got, want)
			}
			if errs != tt.wantErrors {
				t.Errorf("OnError called %d times, want %d", errs, tt.wantErrors)
			}
		})
	}
}

func TestFallbackGuard(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p := GuardPolicy{Free: 2}
	g := &FallbackGuard{Primary: down{}, Secondary: NewMemoryGuard(p, func() time.Time { return now })}
	ctx := context.Background()
	for range 3 {
		if err := g.Fail(ctx, "alice"); err != nil {
			t.Fatalf("Fail: %v", err)
		}
	}
	if got, err := g.Wait(ctx, "alice"); err != nil || got == 0 {
		t.Fatalf("Wait after 3 failures with the shared guard down = %v, %v; want a wait counted in process", got, err)
	}
	if err := g.Reset(ctx, "alice"); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if got, err := g.Wait(ctx, "alice"); err != nil || got != 0 {
		t.Fatalf("Wait after Reset = %v, %v; want 0", got, err)
	}
}
