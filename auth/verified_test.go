package auth

import (
	"fmt"
	"testing"
)

// The verified-token cache evicts by generation: tokens in use survive any
// number of new ones, and the cache never holds more than its bound.
func TestVerifiedCacheEvictsByGeneration(t *testing.T) {
	const max = 100
	c := newVerifiedCache(max)
	hot := c.key("hot token")
	c.put(hot, &Principal{UserID: 1})
	for i := range 10 * max {
		c.put(c.key(fmt.Sprintf("token %d", i)), &Principal{UserID: int64(i + 2)})
		if p := c.get(hot); p == nil || p.UserID != 1 {
			t.Fatalf("after %d new tokens the token in use was evicted (got %+v)", i+1, p)
		}
		if n := c.len(); n > max+2 {
			t.Fatalf("cache holds %d tokens, bound %d", n, max)
		}
	}
	// Idle tokens go: the first of the ten generations is gone.
	if p := c.get(c.key("token 0")); p != nil {
		t.Errorf("an idle token from %d generations ago is still cached", 10)
	}
	if c.key("hot token") != hot || c.key("hot token ") == hot {
		t.Error("keys are not a function of the token alone")
	}
}
