package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/testenv"
)

// openInternal opens a fresh schema for a test of the package's insides.
func openInternal(t *testing.T) *DB {
	t.Helper()
	dbURL := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
	schema := "t_" + strings.ToLower(rand.Text())
	db, err := OpenSchema(t.Context(), dbURL, schema)
	if err != nil {
		t.Fatalf("OpenSchema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.pool.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		db.Close()
	})
	return db
}

// A batch statement decides each of its rotations as rotateChecked
// would alone: the ones whose checks pass happen, the others leave their
// session as it was, and two rotations of one session make one successor.
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
	alice, bob := newUser("alice", true), newUser("bob", false)
	const n = 9
	sids, hashes := make([]string, n), make([]string, n)
	for i := range n {
		u := alice
		if i == 4 {
			u = bob
		}
		sids[i], hashes[i] = fmt.Sprintf("s%d", i), fmt.Sprintf("h%d", i)
		s := &latch.Session{ID: sids[i], UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateSession(ctx, s, &latch.RefreshToken{Hash: hashes[i], SessionID: sids[i], IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeSession(ctx, sids[3], "logout", now); err != nil {
		t.Fatal(err)
	}
	rotation := func(i int, old string, user int64) *rotateReq {
		next := fmt.Sprintf("next-%d-%s", i, old)
		return &rotateReq{r: latch.Rotation{
			OldHash: old, NextJTI: next, Spend: true, Now: now,
			Next:  latch.RefreshToken{Hash: next, SessionID: sids[i], IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour)},
			Check: &latch.RotationCheck{UserID: user, Version: 0},
		}}
	}
	batch := []*rotateReq{
		rotation(0, hashes[0], alice.ID),     // happens
		rotation(1, "not-current", alice.ID), // another token
		rotation(2, hashes[2], bob.ID),       // another user's session
		rotation(3, hashes[3], alice.ID),     // revoked session
		rotation(4, hashes[4], bob.ID),       // inactive user
		rotation(5, hashes[5], alice.ID),     // the same session twice:
		rotation(5, hashes[5], alice.ID),     // one of the two happens
		rotation(6, hashes[6], alice.ID),     // happens
	}
	batch[6].r.Next.Hash, batch[6].r.NextJTI = "next-5-second", "next-5-second"
	w := db.rotations
	if err := w.rotateMany(ctx, batch); err != nil {
		t.Fatal(err)
	}
	happened := func(q *rotateReq) bool { return q.sess != nil }
	for i, want := range []bool{true, false, false, false, false} {
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
	for _, i := range []int{0, 7} {
		q := batch[i]
		if q.sess.ID != q.r.Next.SessionID || q.user == nil || q.user.ID != alice.ID {
			t.Errorf("rotation %d returned session %+v, user %+v", i, q.sess, q.user)
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
	for i, want := range map[int]string{0: batch[0].r.Next.Hash, 1: hashes[1], 2: hashes[2], 3: hashes[3], 4: hashes[4], 6: batch[7].r.Next.Hash, 7: hashes[7]} {
		if got := current(sids[i]); got != want {
			t.Errorf("session %d holds %q, want %q", i, got, want)
		}
	}
	winner := batch[5]
	if happened(batch[6]) {
		winner = batch[6]
	}
	if got := current(sids[5]); got != winner.r.Next.Hash {
		t.Errorf("session 5 holds %q, want the winner's %q", got, winner.r.Next.Hash)
	}
	// Every batch size has its statement, up to the largest.
	for _, k := range []int{2, maxBatch} {
		qs := make([]*rotateReq, k)
		for j := range qs {
			qs[j] = rotation(8, "nothing-current", alice.ID)
		}
		if err := w.rotateMany(ctx, qs); err != nil {
			t.Fatalf("batch of %d: %v", k, err)
		}
	}
}
