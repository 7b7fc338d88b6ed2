package main

// No user enumeration (SPEC §6): a login for an unknown username answers
// with the same body as a wrong password for an existing user, and takes
// as long, since both do one argon2id computation with the configured
// parameters (auth.Login runs Hasher.Dummy for unknown users).

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/latch-auth/latch/password"
)

func TestEnumerationTiming(t *testing.T) {
	// In this process, and in the hashing process latch serve uses.
	for _, hashProcess := range []string{"off", "on"} {
		t.Run("LATCH_HASH_PROCESS="+hashProcess, func(t *testing.T) { testEnumerationTiming(t, hashProcess) })
	}
}

func testEnumerationTiming(t *testing.T, hashProcess string) {
	// The real default argon2id cost (19 MiB, 2 passes), not the harness's
	// cheap one: the difference to detect is one hash.
	ts := newTestServer(t, map[string]string{"LATCH_ARGON2_MEMORY": "19456", "LATCH_ARGON2_ITERATIONS": "2", "LATCH_HASH_PROCESS": hashProcess})
	if hashProcess == "on" && ts.app.HashProcess() == nil {
		t.Fatalf("the hash worker did not start; latch logged:\n%s", ts.logged.String())
	}
	hasher, err := password.NewHasher(password.Params{Memory: 19456, Iterations: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Several existing users, so that a per-account limit on failed logins
	// (which would answer early) is never reached by this test.
	const accounts = 5
	for i := range accounts {
		ts.mustUser(fmt.Sprintf("member%d", i))
	}

	const rounds = 15
	var body string // every answer's, byte for byte
	login := func(username string) time.Duration {
		t.Helper()
		start := time.Now()
		r := ts.postJSON("/api/token/", map[string]any{"username": username, "password": "wrong " + testPassword})
		elapsed := time.Since(start)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("login %s with a wrong password: %d %s, want 401", username, r.status, r.body)
		}
		if body == "" {
			body = r.body
		} else if r.body != body {
			t.Fatalf("login %s: body %q differs from an earlier 401's %q", username, r.body, body)
		}
		return elapsed
	}
	// measure interleaves the two kinds, alternating which goes first, so
	// that drift (CPU frequency, other processes) hits both alike.
	measure := func(attempt int) (wrong, unknown time.Duration) {
		login(fmt.Sprintf("member%d", attempt%accounts)) // warm up: connection, first-use allocations
		login(fmt.Sprintf("nobody-warmup-%d", attempt))
		var w, u []time.Duration
		for i := range rounds {
			existing, missing := fmt.Sprintf("member%d", i%accounts), fmt.Sprintf("nobody-%d-%d", attempt, i)
			if i%2 == 0 {
				w = append(w, login(existing))
				u = append(u, login(missing))
			} else {
				u = append(u, login(missing))
				w = append(w, login(existing))
			}
		}
		return enumerationMedian(w), enumerationMedian(u)
	}

	// One argon2id computation, the fastest of those taken before and after
	// the logins (noise only ever adds time; other packages' tests run
	// beside this one).
	hash := time.Duration(1<<63 - 1)
	timeHashes := func() {
		for range 3 {
			start := time.Now()
			if _, err := hasher.Hash(testPassword); err != nil {
				t.Fatal(err)
			}
			hash = min(hash, time.Since(start))
		}
	}
	timeHashes()

	const bound = 1.5
	var wrong, unknown time.Duration
	for attempt := 1; ; attempt++ {
		wrong, unknown = measure(attempt)
		ratio := float64(unknown) / float64(wrong)
		t.Logf("attempt %d: median wrong password %v, unknown user %v, ratio %.2f", attempt, wrong, unknown, ratio)
		if ratio <= bound && 1/ratio <= bound {
			break
		}
		if attempt == 2 {
			t.Fatalf("an unknown username takes %.2f× as long as a wrong password (medians %v vs %v), want within %.1f× either way", ratio, unknown, wrong, bound)
		}
	}
	// The measurement means something only if each login did hash: a
	// wrong password must cost about one argon2id computation.
	timeHashes()
	if wrong < hash/2 {
		t.Errorf("a wrong-password login takes %v, less than half an argon2id hash (%v): is the password still verified?", wrong, hash)
	}
	if body != `{"detail":"No active account found with the given credentials"}` {
		t.Errorf("401 body %q, want SimpleJWT's", body)
	}
}

// enumerationMedian returns the middle duration (the mean of the two middle ones for
// an even count).
func enumerationMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
