package striped_test

import (
	"sync"
	"testing"

	"github.com/latch-auth/latch/internal/striped"
)

func TestCounterCountsEveryAdd(t *testing.T) {
	var c striped.Counter
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				c.Add()
			}
		})
	}
	wg.Wait()
	if n := c.Load(); n != 4000 {
		t.Errorf("Load = %d after 4000 adds", n)
	}
}
