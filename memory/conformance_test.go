package memory_test

import (
	"testing"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/memory"
	"github.com/latch-auth/latch/storetest"
)

func TestCacheConformance(t *testing.T) {
	storetest.TestSessionCache(t, func(*testing.T) latch.SessionCache { return memory.NewCache(memory.CacheOptions{}) })
}
