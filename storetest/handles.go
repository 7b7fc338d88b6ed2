package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// testHandles checks the optional latch.HandleStore (opaque tokens), when
// the backend has it.
func testHandles(t *testing.T, newStore func(t *testing.T) Store) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	s, ok := store.(interface {
		latch.HandleStore
		PurgeExpired(ctx context.Context, cutoff time.Time) (int64, error)
	})
	if !ok {
		t.Skip("the store keeps no opaque handles")
	}
	now := time.Now().UTC()
	if err := s.PutHandle(ctx, "h1", "s1", []byte(`{"a":1}`), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHandle(ctx, "h2", "s1", []byte(`{"b":2}`), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHandle(ctx, "h3", "s2", []byte(`{"c":3}`), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The same handle again (a refresh repeated in the grace interval).
	if err := s.PutHandle(ctx, "h1", "s1", []byte(`{"a":1}`), now.Add(time.Minute)); err != nil {
		t.Fatalf("PutHandle of a stored hash: %v", err)
	}
	got, err := s.Handle(ctx, "h1", now)
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("Handle(h1) = %q, %v; want {\"a\":1}", got, err)
	}
	if _, err := s.Handle(ctx, "h1", now.Add(2*time.Minute)); !errors.Is(err, latch.ErrNotFound) {
		t.Fatalf("expired handle: err %v, want ErrNotFound", err)
	}
	if _, err := s.Handle(ctx, "nope", now); !errors.Is(err, latch.ErrNotFound) {
		t.Fatalf("unknown handle: err %v, want ErrNotFound", err)
	}
	if err := s.DeleteSessionHandles(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h1", "h2"} {
		if _, err := s.Handle(ctx, h, now); !errors.Is(err, latch.ErrNotFound) {
			t.Fatalf("handle %s after DeleteSessionHandles: err %v, want ErrNotFound", h, err)
		}
	}
	if _, err := s.Handle(ctx, "h3", now); err != nil {
		t.Fatalf("another session's handle was deleted: %v", err)
	}
	if n, err := s.PurgeExpired(ctx, now.Add(2*time.Minute)); err != nil || n < 1 {
		t.Fatalf("PurgeExpired = %d, %v; want the expired handle counted", n, err)
	}
}
