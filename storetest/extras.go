package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

func testHandles(t *testing.T, newStore func(t *testing.T) Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
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

func testOrders(t *testing.T, newStore func(t *testing.T) Store) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	u := &latch.User{Username: "orders", PasswordHash: "x", Role: "user", IsActive: true}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Concurrent first calls seed the demo orders exactly once.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Orders(ctx, u.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.Orders(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(latch.DemoProducts) {
		t.Fatalf("got %d orders, want %d", len(got), len(latch.DemoProducts))
	}
	for i, o := range got {
		if o.Product != latch.DemoProducts[i] || o.UserID != u.ID || o.CreatedAt.IsZero() {
			t.Errorf("order %d = %+v", i, o)
		}
	}
}
