package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
	batch *groupcommit.Batcher[*rotateReq]
}

// rotateReq is one rotation waiting for its batch, and its outcome.
type rotateReq struct {
	r    latch.Rotation
	sess *latch.Session // the session as the rotation left it
	user *latch.User    // with Check: the session's user
	err  error          // the rotation's own refusal (spent, reused, ...)
	done chan struct{}
}

func newRotator(db *DB) *rotator {
	w := &rotator{db: db}
	w.batch = groupcommit.New(1, maxBatch, w.runBatch) // one writer
	return w
}

// do queues r and waits for its batch to commit.
func (w *rotator) do(ctx context.Context, r latch.Rotation) (*rotateReq, error) {
	q := &rotateReq{r: r, done: make(chan struct{})}
	if err := w.batch.Submit(ctx, q); err != nil {
		return nil, err
	}
	select {
	case <-q.done:
	case <-ctx.Done():
		// The rotation may still commit; its caller has gone.
		return nil, ctx.Err()
	}
	if q.err != nil {
		return nil, q.err
	}
	return q, nil
}

// close stops the writer once the rotations queued so far have run.
func (w *rotator) close() { w.batch.Close() }

// runBatch runs batch in one transaction and answers its callers. When a
// statement fails, the transaction is rolled back and each rotation is run
// alone, so that one rotation's failure is not every caller's.
func (w *rotator) runBatch(batch []*rotateReq) {
	// No deadline: a context that can end makes the driver watch it with
	// a goroutine per statement; SQLite's busy timeout bounds the waits.
	err := w.db.rotateBatch(context.Background(), batch)
	if err != nil && len(batch) > 1 {
		for _, q := range batch {
			w.runBatch([]*rotateReq{q})
		}
		return
	}
	for _, q := range batch {
		if err != nil {
			q.sess, q.user, q.err = nil, nil, err
		}
		close(q.done)
	}
}

func (db *DB) rotateBatch(ctx context.Context, batch []*rotateReq) error {
	tx, err := db.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see _txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range batch {
		q.sess, q.user, q.err = nil, nil, nil
		if err := db.rotateInTx(ctx, tx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// statements prepared once on the writer connection for the rotation's
// hot path.
type statements struct {
	spendChecked *sql.Stmt
	insertToken  *sql.Stmt
	sessionUser  *sql.Stmt // a session with its user
}

// spendChecked spends an unspent token and names its successor, in one
// statement that also checks what a refresh needs (Rotation.Check): the
// session active, of the user, the user active with a token version that
// allows the token, the session not idle. The successor's expiry is capped
// at the session's end. Parameters: 1 now, 2 successor jti, 3 successor
// issued, 4 successor expires, 5 session, 6 old hash, 7 user, 8 ver claim,
// 9 idle timeout (us, 0: none).
const spendChecked = `UPDATE refresh_tokens
	SET spent_at = ?1, successor_jti = ?2, successor_issued_at = ?3,
		successor_expires_at = MIN(?4, (SELECT s.expires_at FROM sessions s WHERE s.id = ?5))
	WHERE hash = ?6 AND spent_at IS NULL AND session_id = ?5
		AND EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE s.id = ?5 AND s.revoked_at IS NULL AND s.expires_at > ?1 AND s.user_id = ?7 AND u.is_active
				AND (u.token_version <= ?8 OR (u.version_keep_session = s.id AND u.version_keep_from <= ?8))
				AND (?9 <= 0 OR ` + lastUsed + ` >= ?1 - ?9))
	RETURNING successor_expires_at`

const insertTokenSQL = `INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)`

func (db *DB) prepare(ctx context.Context) error {
	var err error
	if db.stmts.spendChecked, err = db.write.PrepareContext(ctx, spendChecked); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if db.stmts.insertToken, err = db.write.PrepareContext(ctx, insertTokenSQL); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if db.stmts.sessionUser, err = db.write.PrepareContext(ctx,
		`SELECT `+rotatedSessionColumns+`, `+qualifiedUserColumns+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	return nil
}

func (s *statements) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.spendChecked, s.insertToken, s.sessionUser} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// qualifiedUserColumns is userColumns of the users table aliased u.
var qualifiedUserColumns = "u." + strings.ReplaceAll(userColumns, ", ", ", u.")

// scanFunc adapts a function to scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// scanSessionUser scans a row of sessionColumns followed by userColumns.
func scanSessionUser(row scanner) (*latch.Session, *latch.User, error) {
	var u *latch.User
	// scanSession's destinations, then scanUser's, in one Scan of row.
	s, err := scanSession(scanFunc(func(sessionDest ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(userDest ...any) error {
			return row.Scan(append(sessionDest, userDest...)...)
		}))
		return err
	}))
	if err != nil {
		return nil, nil, err
	}
	return s, u, nil
}
