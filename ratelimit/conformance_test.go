package ratelimit_test

import (
	"testing"
	"time"

	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.TestLimiter(t, func(_ *testing.T, r ratelimit.Rate) ratelimit.Limiter { return ratelimit.NewMemory(r, time.Now) })
}

func TestMemoryGuardConformance(t *testing.T) {
	storetest.TestGuard(t, func(_ *testing.T, p ratelimit.GuardPolicy) ratelimit.Guard {
		return ratelimit.NewMemoryGuard(p, time.Now)
	})
}

func TestGCRAConformance(t *testing.T) {
	storetest.TestLimiter(t, func(_ *testing.T, r ratelimit.Rate) ratelimit.Limiter { return ratelimit.NewGCRA(r, time.Now) })
}
