package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// logSeq returns the highest Seq in the revocation log (0 when empty).
func logSeq(t testing.TB, s Store) int64 {
	t.Helper()
	var last int64
	for {
		rs, err := s.RevocationsAfter(t.Context(), last, 1000)
		checkErr(t, "RevocationsAfter", err, nil)
		if len(rs) == 0 {
			return last
		}
		last = rs[len(rs)-1].Seq
	}
}

// checkLog checks the records after seq are want (Seq aside), in order,
// with increasing Seq.
func checkLog(t testing.TB, s Store, after int64, want []latch.RevocationRecord) []latch.RevocationRecord {
	t.Helper()
	got, err := s.RevocationsAfter(t.Context(), after, 1000)
	checkErr(t, "RevocationsAfter", err, nil)
	for i := range want {
		want[i].At = micro(want[i].At)
	}
	last := after
	plain := make([]latch.RevocationRecord, len(got))
	for i, r := range got {
		if r.Seq <= last {
			t.Errorf("record %d: Seq %d after %d, want increasing", i, r.Seq, last)
		}
		last = r.Seq
		r.Seq = 0
		plain[i] = r
	}
	// Records of one transaction (RevokeUserSessions) come in no set order.
	byName := func(a, b latch.RevocationRecord) int { return strings.Compare(a.SessionID, b.SessionID) }
	slices.SortStableFunc(plain, byName)
	slices.SortStableFunc(want, byName)
	if !slices.Equal(plain, want) {
		t.Errorf("revocation log after %d =\n%+v\nwant\n%+v", after, plain, want)
	}
	return got
}

func testRevocationLog(t *testing.T, newStore func(*testing.T) Store) {
	t.Run("Records", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		checkLog(t, s, 0, nil)
		u := mustUser(t, s, "alice")
		v := mustUser(t, s, "bob")
		for _, id := range []string{"a1", "a2", "a3", "gone"} {
			mustSession(t, s, u.ID, id, at(0), at(24*time.Hour))
		}
		mustSession(t, s, u.ID, "ended", at(0), at(time.Hour))
		mustSession(t, s, v.ID, "b1", at(0), at(24*time.Hour))

		steps := []struct {
			name string
			do   func() error
			want []latch.RevocationRecord
		}{
			{"RevokeSession", func() error {
				_, err := s.RevokeSession(ctx, "gone", latch.ReasonLogout, at(2*time.Hour))
				return err
			}, []latch.RevocationRecord{{SessionID: "gone", UserID: u.ID, At: at(2 * time.Hour)}}},
			{"RevokeSession again", func() error {
				_, err := s.RevokeSession(ctx, "gone", latch.ReasonAdmin, at(3*time.Hour))
				return err
			}, nil},
			{"RevokeSession of a missing session", func() error {
				_, err := s.RevokeSession(ctx, "missing", latch.ReasonAdmin, at(3*time.Hour))
				if err == nil {
					return fmt.Errorf("no error")
				}
				checkErr(t, "RevokeSession of a missing session", err, latch.ErrNotFound)
				return nil
			}, nil},
			{"BumpTokenVersion", func() error {
				_, err := s.BumpTokenVersion(ctx, u.ID, "a1", at(4*time.Hour))
				return err
			}, []latch.RevocationRecord{{UserID: u.ID, Version: latch.TokenVersion{UserID: u.ID, Version: 1, KeepSession: "a1"}, At: at(4 * time.Hour)}}},
			{"RevokeUserSessions", func() error {
				// Not a1 (kept), not gone (revoked), not ended, not bob's.
				_, err := s.RevokeUserSessions(ctx, u.ID, "a1", latch.ReasonPasswordChange, at(4*time.Hour))
				return err
			}, []latch.RevocationRecord{
				{SessionID: "a2", UserID: u.ID, At: at(4 * time.Hour)},
				{SessionID: "a3", UserID: u.ID, At: at(4 * time.Hour)},
			}},
			{"RevokeUserSessions with nothing left", func() error {
				_, err := s.RevokeUserSessions(ctx, u.ID, "a1", latch.ReasonPasswordChange, at(5*time.Hour))
				return err
			}, nil},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				before := logSeq(t, s)
				checkErr(t, st.name, st.do(), nil)
				checkLog(t, s, before, st.want)
			})
		}
		all, err := s.RevocationsAfter(ctx, 0, 1000)
		checkErr(t, "RevocationsAfter", err, nil)
		if len(all) != 4 {
			t.Fatalf("log holds %d records, want 4", len(all))
		}

		// The cursor and the limit.
		page, err := s.RevocationsAfter(ctx, all[0].Seq, 2)
		checkErr(t, "RevocationsAfter", err, nil)
		if len(page) != 2 || page[0] != all[1] || page[1] != all[2] {
			t.Errorf("RevocationsAfter(%d, 2) = %+v, want %+v", all[0].Seq, page, all[1:3])
		}
		page, err = s.RevocationsAfter(ctx, all[3].Seq, 10)
		checkErr(t, "RevocationsAfter", err, nil)
		if len(page) != 0 {
			t.Errorf("RevocationsAfter(last) = %+v, want none", page)
		}

		// Pruning: only records made before the cutoff, at most limit.
		n, err := s.PruneRevocations(ctx, at(2*time.Hour), 10)
		checkErr(t, "PruneRevocations", err, nil)
		if n != 0 {
			t.Errorf("PruneRevocations(at the first record) = %d, want 0", n)
		}
		n, err = s.PruneRevocations(ctx, at(5*time.Hour), 2)
		checkErr(t, "PruneRevocations", err, nil)
		if n != 2 {
			t.Errorf("PruneRevocations(limit 2) = %d, want 2", n)
		}
		left, err := s.RevocationsAfter(ctx, 0, 10)
		checkErr(t, "RevocationsAfter", err, nil)
		if !slices.Equal(left, all[2:]) {
			t.Errorf("after pruning 2: %+v, want %+v", left, all[2:])
		}
		n, err = s.PruneRevocations(ctx, at(5*time.Hour), 10)
		checkErr(t, "PruneRevocations", err, nil)
		if n != 2 {
			t.Errorf("PruneRevocations(rest) = %d, want 2", n)
		}
		// Seq never goes back after a prune.
		before := all[3].Seq
		if _, err := s.RevokeSession(ctx, "b1", latch.ReasonLogout, at(6*time.Hour)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		got := checkLog(t, s, before, []latch.RevocationRecord{{SessionID: "b1", UserID: v.ID, At: at(6 * time.Hour)}})
		if len(got) == 1 && got[0].Seq <= before {
			t.Errorf("Seq after pruning = %d, want above %d", got[0].Seq, before)
		}
	})

	// A reader that follows Seq as a cursor while writers append must see
	// every record: no record may become visible after one with a higher
	// Seq (which would have moved the cursor past it).
	t.Run("CursorSkipsNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		const writers, each = 8, 25
		ids := make([][]string, writers)
		for w := range writers {
			u := mustUser(t, s, fmt.Sprintf("writer%d", w))
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				mustSession(t, s, u.ID, id, at(0), at(24*time.Hour))
				ids[w] = append(ids[w], id)
			}
		}
		seen := map[string]bool{}
		var cursor int64
		follow := func() {
			rs, err := s.RevocationsAfter(ctx, cursor, 7)
			checkErr(t, "RevocationsAfter", err, nil)
			for _, r := range rs {
				seen[r.SessionID] = true
				cursor = r.Seq
			}
		}
		var wg sync.WaitGroup
		done := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				for _, id := range ids[w] {
					if _, err := s.RevokeSession(ctx, id, latch.ReasonLogout, at(time.Hour)); err != nil {
						t.Errorf("RevokeSession: %v", err)
						return
					}
				}
			})
		}
		go func() { wg.Wait(); close(done) }()
	loop:
		for {
			select {
			case <-done:
				break loop
			default:
				follow()
			}
		}
		for range writers * each {
			follow()
		}
		for w := range writers {
			for _, id := range ids[w] {
				if !seen[id] {
					t.Errorf("the cursor passed over the record of %s", id)
				}
			}
		}
	})
}
