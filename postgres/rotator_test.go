package postgres

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latch-auth/latch"
)

// A batch statement decides each of its rotations as it would alone:
// the ones whose checks pass happen, the others leave their session as it
// was, and two rotations of one session make one successor.
func TestRotateManyBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openInternal(t)
	now := time.Now().Truncate(time.Microsecond)
	newUser := func(name string, active bool) *latch.User {
		u := &latch.User{Username: name, PasswordHash: "x", Role: "user", IsActive: true, CreatedAt: now}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if !active {
			if err := db.SetActive(ctx, u.ID, false); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	alice, bob, carol := newUser("alice", true), newUser("bob", false), newUser("carol", true)
	// carol's tokens before version 3 are revoked (a password change).
	if _, err := db.pool.Exec(ctx, `UPDATE users SET token_version = 3 WHERE id = $1`, carol.ID); err != nil {
		t.Fatal(err)
	}
	const n = 12
	owners := map[int]*latch.User{4: bob, 9: carol, 10: carol}
	sids, hashes := make([]string, n), make([]string, n)
	for i := range n {
		u := alice
		if o, ok := owners[i]; ok {
			u = o
		}
		sids[i], hashes[i] = fmt.Sprintf("s%d", i), fmt.Sprintf("h%d", i)
		s := &latch.Session{ID: sids[i], UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := db.CreateSession(ctx, s, &latch.RefreshToken{Hash: hashes[i], SessionID: sids[i], IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeSession(ctx, sids[3], "logout", now); err != nil {
		t.Fatal(err)
	}
	rot := func(i int, old string, user, ver int64) *rotation {
		next := fmt.Sprintf("next-%d-%s", i, old)
		return &rotation{In: latch.Rotation{
			OldHash: old, NextJTI: next, Spend: true, Now: now,
			Next:  latch.RefreshToken{Hash: next, SessionID: sids[i], IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour)},
			Check: &latch.RotationCheck{UserID: user, Version: ver},
		}}
	}
	idle := rot(8, hashes[8], alice.ID, 0)
	idle.In.Now = now.Add(2 * time.Hour) // last used two hours before
	idle.In.Check.IdleTimeout = time.Hour
	batch := []*rotation{
		rot(0, hashes[0], alice.ID, 0),     // happens
		rot(1, "not-current", alice.ID, 0), // another token
		rot(2, hashes[2], carol.ID, 3),     // another user's session
		rot(3, hashes[3], alice.ID, 0),     // revoked session
		rot(4, hashes[4], bob.ID, 0),       // inactive user
		rot(5, hashes[5], alice.ID, 0),     // the same session twice:
		rot(5, hashes[5], alice.ID, 0),     // one of the two happens
		rot(6, hashes[6], alice.ID, 0),     // happens
		idle,                               // idle too long
		rot(9, hashes[9], carol.ID, 2),     // a revoked version
		rot(10, hashes[10], carol.ID, 3),   // the current version: happens
	}
	w := db.rotations
	if err := w.rotateMany(ctx, batch); err != nil {
		t.Fatal(err)
	}
	happened := func(q *rotation) bool { return q.Out.sess != nil }
	for i, want := range map[int]bool{0: true, 1: false, 2: false, 3: false, 4: false, 8: false, 9: false, 10: true} {
		if happened(batch[i]) != want {
			t.Errorf("rotation %d happened = %v, want %v", i, happened(batch[i]), want)
		}
	}
	if happened(batch[5]) == happened(batch[6]) {
		t.Errorf("both or neither of two rotations of one session happened")
	}
	if !happened(batch[7]) {
		t.Errorf("rotation 7 did not happen")
	}
	for i, u := range map[int]*latch.User{0: alice, 7: alice, 10: carol} {
		q := batch[i]
		if q.Out.sess.ID != q.In.Next.SessionID || q.Out.user == nil || q.Out.user.ID != u.ID {
			t.Errorf("rotation %d returned session %+v, user %+v", i, q.Out.sess, q.Out.user)
		}
	}
	// The sessions hold what happened: the successor where a rotation
	// happened, the old token where none did.
	current := func(sid string) string {
		var h string
		if err := db.pool.QueryRow(ctx, `SELECT refresh_hash FROM sessions WHERE id = $1`, sid).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	for i, want := range map[int]string{0: batch[0].In.Next.Hash, 1: hashes[1], 2: hashes[2], 3: hashes[3], 4: hashes[4],
		6: batch[7].In.Next.Hash, 7: hashes[7], 8: hashes[8], 9: hashes[9], 10: batch[10].In.Next.Hash} {
		if got := current(sids[i]); got != want {
			t.Errorf("session %d holds %q, want %q", i, got, want)
		}
	}
	winner := batch[5]
	if happened(batch[6]) {
		winner = batch[6]
	}
	if got := current(sids[5]); got != winner.In.Next.Hash {
		t.Errorf("session 5 holds %q, want the winner's %q", got, winner.In.Next.Hash)
	}
	// Every batch size has its statement, up to the largest.
	for _, k := range []int{2, maxBatch} {
		qs := make([]*rotation, k)
		for j := range qs {
			qs[j] = rot(11, "nothing-current", alice.ID, 0)
		}
		if err := w.rotateMany(ctx, qs); err != nil {
			t.Fatalf("batch of %d: %v", k, err)
		}
	}
}

// Row n of a batch statement takes parameters 11(n-1)+1 to 11n: every
// one of them used once, none beyond.
func TestRotateManyStatementsNumbering(t *testing.T) {
	t.Parallel()
	param := regexp.MustCompile(`\$(\d+)`)
	for n, stmt := range rotateManyStatements(maxBatch) {
		if n == 0 {
			continue
		}
		seen := make(map[int]int)
		for _, m := range param.FindAllStringSubmatch(stmt, -1) {
			k, _ := strconv.Atoi(m[1])
			seen[k]++
		}
		if len(seen) != n*rotateManyColumns {
			t.Fatalf("batch of %d: %d distinct parameters, want %d", n, len(seen), n*rotateManyColumns)
		}
		for k := 1; k <= n*rotateManyColumns; k++ {
			if seen[k] != 1 {
				t.Fatalf("batch of %d: $%d appears %d times", n, k, seen[k])
			}
		}
	}
}

// On the rotator's connections a batch statement finds its sessions and
// users by primary key even where the statistics call for a sequential
// scan: a small, analyzed table, and the generic plan a prepared
// statement settles on.
func TestRotatorPlansByKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, u, _ := aliceWithSessions(t, 64)
	if _, err := db.pool.Exec(ctx, `ANALYZE sessions, users`); err != nil {
		t.Fatal(err)
	}
	const n = 3
	var values []string
	for i := range n {
		values = append(values, fmt.Sprintf("%d, now(), 'next%d', 'jti%d', now(), now() + interval '1 hour', 's%d', 'hs%d', %d, 0, 0", i, i, i, i, i, u.ID))
	}
	plan := func(c conns) string {
		conn, err := c.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		name := fmt.Sprintf("plan_%d", time.Now().UnixNano())
		if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `PREPARE `+name+` AS `+rotateManyStatements(n)[n]); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+name+`(`+strings.Join(values, ", ")+`)`, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `DEALLOCATE `+name+`; RESET plan_cache_mode`); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	got := plan(db.rotations.conns)
	for _, want := range []string{"Index Scan using sessions_pkey on sessions s", "Index Scan using users_pkey on users u"} {
		if !strings.Contains(got, want) {
			t.Errorf("the rotator's plan has no %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Seq Scan") {
		t.Errorf("the rotator's plan scans a table whole:\n%s", got)
	}
	// The settings are the rotator's alone: the pool plans as configured.
	var seqscan string
	if err := db.pool.QueryRow(ctx, `SHOW enable_seqscan`).Scan(&seqscan); err != nil || seqscan != "on" {
		t.Errorf("enable_seqscan on the pool's connections: %q, %v; want on", seqscan, err)
	}
}

// A batch whose statement fails (here, one rotation's successor hash
// holds a byte PostgreSQL's text refuses) runs again one rotation per
// statement: the failure is that rotation's caller's alone.
func TestRotatorBatchFailureIsOneCallers(t *testing.T) {
	t.Parallel()
	db, u, now := aliceWithSessions(t, 4)
	rot := func(i int, next string) *rotation {
		sid := fmt.Sprintf("s%d", i)
		return &rotation{In: latch.Rotation{
			OldHash: "h" + sid, NextJTI: next, Spend: true, Now: now,
			Next:  latch.RefreshToken{Hash: next, SessionID: sid, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
			Check: &latch.RotationCheck{UserID: u.ID},
		}}
	}
	batch := []*rotation{rot(0, "next0"), rot(1, "next\x001"), rot(2, "next2")}
	db.rotations.runBatch(batch)
	for i, c := range batch {
		if failed := c.Err != nil; failed != (i == 1) || (c.Out.sess != nil) != (i != 1) {
			t.Errorf("rotation %d: session %v, error %v", i, c.Out.sess, c.Err)
		}
	}
	alone := []*rotation{rot(3, "next\x003")}
	db.rotations.runBatch(alone)
	if alone[0].Err == nil || alone[0].Out.sess != nil {
		t.Errorf("a failed rotation alone: session %v, error %v", alone[0].Out.sess, alone[0].Err)
	}
}

// aliceWithSessions opens a schema holding the user alice and n sessions
// of hers, s0 to s(n-1), each with the current token "h" and its id; it
// returns the time they were made at.
func aliceWithSessions(t *testing.T, n int) (*DB, *latch.User, time.Time) {
	t.Helper()
	ctx := t.Context()
	db := openInternal(t)
	now := time.Now().Truncate(time.Microsecond)
	u := &latch.User{Username: "alice", PasswordHash: "x", Role: "user", IsActive: true, CreatedAt: now}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		sid := fmt.Sprintf("s%d", i)
		s := &latch.Session{ID: sid, UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateSession(ctx, s, &latch.RefreshToken{Hash: "h" + sid, SessionID: sid, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	return db, u, now
}
