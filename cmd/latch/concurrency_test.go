package main

import (
	"sync"
	"testing"
)

// concurrentRefresh fires n refreshes of one token at once and returns
// the responses.
func concurrentRefresh(ts *testServer, refresh string, n int) []response {
	var wg sync.WaitGroup
	start := make(chan struct{})
	out := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = ts.postJSON("/api/token/refresh/", map[string]any{"refresh": refresh})
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// TestConcurrentRefreshOneSuccessor: however many refreshes of one token
// race, they yield one successor: inside the grace interval every caller
// gets that same new pair.
func TestConcurrentRefreshOneSuccessor(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")
		pairs := map[pair]bool{}
		for _, r := range concurrentRefresh(ts, p.refresh, 20) {
			wantResponse(t, r, 200, "")
			pairs[pair{r.str(t, "access"), r.str(t, "refresh")}] = true
		}
		if len(pairs) != 1 {
			t.Fatalf("%d different pairs from one refresh token, want 1", len(pairs))
		}
		for p := range pairs {
			wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": p.refresh}), 200, "")
		}
	})
}

// TestConcurrentRefreshNoGrace: with the grace interval off, exactly one
// racing refresh wins and the others are reuse, which revokes the session.
func TestConcurrentRefreshNoGrace(t *testing.T) {
	onEachBackend(t, map[string]string{"LATCH_REFRESH_REUSE_INTERVAL": "0"}, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")
		var won []string
		for _, r := range concurrentRefresh(ts, p.refresh, 20) {
			switch r.status {
			case 200:
				won = append(won, r.str(t, "refresh"))
			case 401:
			default:
				t.Fatalf("unexpected %d %s", r.status, r.body)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d refreshes succeeded, want exactly 1", len(won))
		}
		// The losers were reuse: the session, winner's successor included, is revoked.
		wantResponse(t, ts.postJSON("/api/token/refresh/", map[string]any{"refresh": won[0]}), 401, bodyBlacklisted)
	})
}
