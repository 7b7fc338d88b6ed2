package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/latch-auth/latch/memory"
)

// Seed 000's pattern: serve a resource from the session's cache, and drop
// the session's values when it logs out or rotates.
func ExampleCache() {
	ctx := context.Background()
	cache := memory.NewCache(memory.CacheOptions{})

	orders := func(sid string) string {
		if v, ok, _ := cache.Get(ctx, sid, "orders"); ok {
			return fmt.Sprintf(`{"cached": true, "data": %s}`, v)
		}
		data := `[{"id": 1}]` // loaded from the database
		_ = cache.Set(ctx, sid, "orders", []byte(data), 5*time.Minute)
		return fmt.Sprintf(`{"cached": false, "data": %s}`, data)
	}

	fmt.Println(orders("session-1"))
	fmt.Println(orders("session-1"))
	_ = cache.DropSession(ctx, "session-1") // logout
	fmt.Println(orders("session-1"))
	// Output:
	// {"cached": false, "data": [{"id": 1}]}
	// {"cached": true, "data": [{"id": 1}]}
	// {"cached": false, "data": [{"id": 1}]}
}
