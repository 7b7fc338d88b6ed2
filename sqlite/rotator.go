package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/groupcommit"
)

// maxBatch bounds how many rotations share one transaction, so that a
// burst does not hold the only writer (which logins wait for) for long.
const maxBatch = 64

// rotator is a group-commit writer for rotations: SQLite commits one
// transaction at a time on the one writer connection, and a commit costs
// more than the two statements of a rotation, so rotations that arrive
// while a batch runs wait and go together in the next transaction. Each
// caller is answered with its own outcome once that transaction has
// committed: nothing is acknowledged before it is durable, and a reuse
// detected in a batch revokes its family in the batch's transaction.
type rotator struct {
	db    *DB
	batch *groupcommit.Batcher[latch.Rotation, rotated]
}

// rotated is a rotation's outcome: the session as the rotation left it
// and, with Check, the session's user. The rotation's own refusal (spent,
// reused, ...) is its call's Err.
type rotated struct {
	sess *latch.Session
	user *latch.User
}

type rotation = groupcommit.Call[latch.Rotation, rotated]

func newRotator(db *DB) *rotator {
	w := &rotator{db: db}
	w.batch = groupcommit.New(maxBatch, w.runBatch)
	return w
}

// close stops the writer once the rotations queued so far have run.
func (w *rotator) close() { w.batch.Close() }

// runBatch runs batch in one transaction. When a statement fails, the
// transaction is rolled back and each rotation is run alone, so that one
// rotation's failure is not every caller's.
func (w *rotator) runBatch(batch []*rotation) {
	// No deadline: a context that can end makes the driver watch it with
	// a goroutine per statement; SQLite's busy timeout bounds the waits.
	err := w.db.rotateBatch(context.Background(), batch)
	if err != nil && len(batch) > 1 {
		for _, c := range batch {
			w.runBatch([]*rotation{c})
		}
		return
	}
	if err != nil {
		batch[0].Out, batch[0].Err = rotated{}, err
	}
}

func (db *DB) rotateBatch(ctx context.Context, batch []*rotation) error {
	tx, err := db.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see _txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, c := range batch {
		c.Out, c.Err = rotated{}, nil
		if err := db.rotateInTx(ctx, tx, c); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// statements prepared once on the writer connection for the rotation's
// hot path.
type statements struct {
	rotateChecked *sql.Stmt
	rotate        *sql.Stmt
	user          *sql.Stmt
}

// rotateSet makes the successor the session's current token and the
// current one its replaced token. Parameters: 1 now, 2 successor hash,
// 3 successor jti, 4 successor issued, 5 successor expires (capped at the
// session's end), 6 session.
const rotateSet = `UPDATE sessions SET
	replaced_hash = refresh_hash, replaced_issued_at = refresh_issued_at, replaced_expires_at = refresh_expires_at, replaced_at = ?1,
	refresh_hash = ?2, refresh_jti = ?3, refresh_issued_at = ?4, refresh_expires_at = MIN(?5, expires_at)
	WHERE id = ?6`

// rotateChecked is rotateSet for a token that must be the session's
// current one, in one statement that also checks what a refresh needs
// (Rotation.Check): the session active, of the user, the user active with
// a token version that allows the token, the session not idle. Further
// parameters: 7 old hash, 8 user, 9 ver claim, 10 idle timeout (us, 0:
// none).
const rotateChecked = rotateSet + ` AND refresh_hash = ?7 AND revoked_at IS NULL AND expires_at > ?1 AND user_id = ?8
		AND EXISTS (SELECT 1 FROM users u WHERE u.id = ?8 AND u.is_active
			AND (u.token_version <= ?9 OR (u.version_keep_session = ?6 AND u.version_keep_from <= ?9)))
		AND (?10 <= 0 OR MAX(last_used_at, refresh_issued_at) >= ?1 - ?10)
	RETURNING ` + returningSession

func (db *DB) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&db.stmts.rotateChecked, rotateChecked},
		{&db.stmts.rotate, rotateSet + ` RETURNING ` + returningSession},
		{&db.stmts.user, `SELECT ` + userColumns + ` FROM users WHERE id = ?`},
	} {
		var err error
		if *p.stmt, err = db.write.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	return nil
}

func (s *statements) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.rotateChecked, s.rotate, s.user} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
