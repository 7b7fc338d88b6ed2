package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/groupcommit"
)

// Checked rotations (a refresh's) are group-committed: the ones that
// arrive while a batch is on its way go together in the next statement,
// one round trip and one transaction for all of them, so that a fleet of
// clients refreshing at once costs PostgreSQL one statement per batch
// rather than one per client.
const (
	maxBatch      = 64
	rotateWorkers = 2 // batches in flight at once, each on its own connection
	batchTimeout  = 10 * time.Second
)

// rotator packs checked rotations into batches.
type rotator struct {
	db    *DB
	batch *groupcommit.Batcher[*rotateReq]
}

// rotateReq is one checked rotation waiting for its batch, and its
// outcome: the session and user when the rotation happened, neither when
// it did not (the caller then finds out why), or the error that stopped
// the statement.
type rotateReq struct {
	r    latch.Rotation
	sess *latch.Session
	user *latch.User
	err  error
	done chan struct{}
}

func newRotator(db *DB) *rotator {
	w := &rotator{db: db}
	w.batch = groupcommit.New(rotateWorkers, maxBatch, w.runBatch)
	return w
}

// do runs the checked rotation r in a batch and waits for its outcome.
func (w *rotator) do(ctx context.Context, r latch.Rotation) (*rotateReq, error) {
	q := &rotateReq{r: r, done: make(chan struct{})}
	if err := w.batch.Submit(ctx, q); err != nil {
		return nil, err
	}
	select {
	case <-q.done:
		return q, q.err
	case <-ctx.Done():
		// The rotation may still commit; its caller has gone.
		return nil, ctx.Err()
	}
}

func (w *rotator) runBatch(batch []*rotateReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if len(batch) == 1 || w.db.rotateMany(ctx, batch) != nil {
		// Alone, or the batch failed (a deadlock with another instance's
		// batch, say): each rotation in a statement of its own, so that
		// one rotation's failure is not every caller's.
		for _, q := range batch {
			q.sess, q.user, q.err = w.db.rotateOne(ctx, q.r)
		}
	}
	for _, q := range batch {
		close(q.done)
	}
}

// rotateOne runs rotateChecked for r: the session and user, or neither
// when no row changed.
func (db *DB) rotateOne(ctx context.Context, r latch.Rotation) (*latch.Session, *latch.User, error) {
	c := r.Check
	var u *latch.User
	var issued time.Time
	// scanSession's destinations, the successor's issue time, then
	// scanUser's, in one Scan of the row.
	s, err := scanSession(scanFunc(func(sessionDest ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(userDest ...any) error {
			return db.pool.QueryRow(ctx, rotateChecked,
				r.Now, r.NextJTI, r.Next.IssuedAt, r.Next.ExpiresAt, r.Next.SessionID, r.OldHash,
				c.UserID, c.Version, c.IdleTimeout.Microseconds(), r.Next.Hash,
			).Scan(append(append(sessionDest, &issued), userDest...)...)
		}))
		return err
	}))
	switch {
	case errors.Is(err, latch.ErrNotFound):
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	newest(s, issued)
	return s, u, nil
}

// newest makes the successor, issued at issued by the rotation, the
// session's last use.
func newest(s *latch.Session, issued time.Time) {
	if issued = issued.UTC(); issued.After(s.LastUsedAt) {
		s.LastUsedAt = issued
	}
}

// rotateMany is rotateChecked for a whole batch, in one statement: the
// rotations come in as arrays, and the rows that come back name the ones
// that happened by their index in the batch. Two rotations of one token in
// a batch update its row once; the one whose successor the row names won,
// the other finds the token spent on its own.
var rotateManySQL = `WITH input AS (
	SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
		$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::bigint[])
		AS i(idx, old_hash, next_jti, next_hash, session_id, user_id, ver, now, issued, expires, idle)
), spent AS (
	UPDATE refresh_tokens t
	SET spent_at = i.now, successor_jti = i.next_jti, successor_issued_at = i.issued,
		successor_expires_at = LEAST(i.expires, s.expires_at)
	FROM input i, sessions s JOIN users u ON u.id = s.user_id
	WHERE t.hash = i.old_hash AND t.spent_at IS NULL AND t.session_id = i.session_id AND s.id = t.session_id
		AND s.revoked_at IS NULL AND s.expires_at > i.now AND s.user_id = i.user_id AND u.is_active
		AND (u.token_version <= i.ver OR (u.version_keep_session = s.id AND u.version_keep_from <= i.ver))
		AND (i.idle <= 0 OR ` + lastUsed + ` >= i.now - i.idle * interval '1 microsecond')
	RETURNING t.hash, t.session_id, t.successor_jti, t.successor_issued_at, t.successor_expires_at
), won AS (
	SELECT i.idx, i.next_hash, spent.session_id, spent.successor_issued_at, spent.successor_expires_at
	FROM spent JOIN input i ON i.old_hash = spent.hash AND i.next_jti = spent.successor_jti
), next AS (
	INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
	SELECT next_hash, session_id, successor_issued_at, successor_expires_at FROM won
)
SELECT won.idx, ` + rotatedSessionColumns + `, won.successor_issued_at, ` + qualifiedUserColumns + `
FROM won JOIN sessions s ON s.id = won.session_id JOIN users u ON u.id = s.user_id`

// rotateMany runs batch in one statement and records each rotation's
// session and user in it; a rotation that did not happen keeps neither.
func (db *DB) rotateMany(ctx context.Context, batch []*rotateReq) error {
	n := len(batch)
	var (
		idx                     = make([]int32, n)
		oldHash, jti, hash, sid = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		user, ver, idle         = make([]int64, n), make([]int64, n), make([]int64, n)
		now, issued, expires    = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	)
	for i, q := range batch {
		r := q.r
		q.sess, q.user, q.err = nil, nil, nil
		idx[i], oldHash[i], jti[i], hash[i], sid[i] = int32(i), r.OldHash, r.NextJTI, r.Next.Hash, r.Next.SessionID
		user[i], ver[i], idle[i] = r.Check.UserID, r.Check.Version, r.Check.IdleTimeout.Microseconds()
		now[i], issued[i], expires[i] = r.Now, r.Next.IssuedAt, r.Next.ExpiresAt
	}
	rows, err := db.pool.Query(ctx, rotateManySQL, idx, oldHash, jti, hash, sid, user, ver, now, issued, expires, idle)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int32
		var u *latch.User
		var at time.Time
		s, err := scanSession(scanFunc(func(sessionDest ...any) error {
			var err error
			u, err = scanUser(scanFunc(func(userDest ...any) error {
				return rows.Scan(append(append(append([]any{&i}, sessionDest...), &at), userDest...)...)
			}))
			return err
		}))
		if err != nil {
			return err
		}
		if i < 0 || int(i) >= n {
			return fmt.Errorf("rotate: batch index %d out of range", i)
		}
		newest(s, at)
		batch[i].sess, batch[i].user = s, u
	}
	return rows.Err()
}
