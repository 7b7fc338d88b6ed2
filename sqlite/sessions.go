package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch"
)

var _ latch.SessionStore = (*DB)(nil)

// lastUsed is when session s was last used: a rotation does not write
// s.last_used_at (one statement less on the only writer), the issue time
// of the session's newest refresh token says it (index
// refresh_tokens_session_issued).
const lastUsed = `MAX(s.last_used_at, COALESCE((SELECT MAX(r.issued_at) FROM refresh_tokens r WHERE r.session_id = s.id), 0))`

const sessionColumns = `s.id, s.user_id, s.created_at, ` + lastUsed + `, s.expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

// rotatedSessionColumns is sessionColumns right after a rotation, whose
// successor is the session's newest token: the caller takes the later of
// last_used_at and the successor's issue time, with no look at the other
// tokens.
const rotatedSessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

// returningSession is sessionColumns for a RETURNING clause, where SQLite
// accepts no table qualifier (the subquery's unqualified id is the
// session's: refresh_tokens has no such column).
const returningSession = `id, user_id, created_at,
	MAX(last_used_at, COALESCE((SELECT MAX(r.issued_at) FROM refresh_tokens r WHERE r.session_id = id), 0)),
	expires_at, user_agent, ip, revoked_at, revoke_reason`

type scanner interface{ Scan(...any) error }

func scanSession(row scanner, extra ...any) (*latch.Session, error) {
	var s latch.Session
	var created, used, expires int64
	var revoked sql.NullInt64
	dest := append([]any{&s.ID, &s.UserID, &created, &used, &expires, &s.UserAgent, &s.IP, &revoked, &s.RevokeReason}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, latch.ErrNotFound
		}
		return nil, err
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = fromMicro(created), fromMicro(used), fromMicro(expires)
	s.RevokedAt = fromDB(revoked)
	return &s, nil
}

func scanSessions(rows *sql.Rows, err error) ([]latch.Session, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []latch.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// CreateSession implements latch.SessionStore.
func (db *DB) CreateSession(ctx context.Context, s *latch.Session, first *latch.RefreshToken) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create session: %w", classify(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at, revoke_reason)
		 VALUES (?, ?, ?, ?, ?, ?, ?, NULL, '')`,
		s.ID, s.UserID, s.CreatedAt.UnixMicro(), s.LastUsedAt.UnixMicro(), s.ExpiresAt.UnixMicro(), s.UserAgent, s.IP); err != nil {
		return fmt.Errorf("create session: %w", classify(err))
	}
	if err := insertToken(ctx, tx, first); err != nil {
		return fmt.Errorf("create session: %w", classify(err))
	}
	return tx.Commit()
}

func insertToken(ctx context.Context, tx *sql.Tx, t *latch.RefreshToken) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)`,
		t.Hash, t.SessionID, t.IssuedAt.UnixMicro(), t.ExpiresAt.UnixMicro())
	return err
}

// Session implements latch.SessionStore.
func (db *DB) Session(ctx context.Context, id string) (*latch.Session, error) {
	s, err := scanSession(db.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("session: %w", classify(err))
	}
	return s, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func tokenWithSession(ctx context.Context, q querier, hash string) (*latch.RefreshToken, *latch.Session, error) {
	var t latch.RefreshToken
	var issued, expires int64
	var spent, succIssued, succExpires sql.NullInt64
	var succJTI sql.NullString
	s, err := scanSession(q.QueryRowContext(ctx,
		`SELECT `+sessionColumns+`, t.hash, t.issued_at, t.expires_at, t.spent_at, t.successor_jti, t.successor_issued_at, t.successor_expires_at
		 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = ?`, hash),
		&t.Hash, &issued, &expires, &spent, &succJTI, &succIssued, &succExpires)
	if err != nil {
		return nil, nil, err
	}
	t.SessionID = s.ID
	t.IssuedAt, t.ExpiresAt = fromMicro(issued), fromMicro(expires)
	t.SpentAt = fromDB(spent)
	if succJTI.Valid {
		t.Successor = &latch.Successor{JTI: succJTI.String, IssuedAt: fromDB(succIssued), ExpiresAt: fromDB(succExpires)}
	}
	return &t, s, nil
}

// RefreshToken implements latch.SessionStore.
func (db *DB) RefreshToken(ctx context.Context, hash string) (*latch.RefreshToken, *latch.Session, error) {
	t, s, err := tokenWithSession(ctx, db.read, hash)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh token: %w", classify(err))
	}
	return t, s, nil
}

// usable loads the token in tx and checks it may be refreshed at now.
func usable(ctx context.Context, tx *sql.Tx, hash string, now time.Time) (*latch.RefreshToken, *latch.Session, error) {
	t, s, err := tokenWithSession(ctx, tx, hash)
	if err != nil {
		return nil, nil, err
	}
	if !s.Active(now) {
		return nil, nil, latch.ErrSessionRevoked
	}
	if !t.SpentAt.IsZero() {
		return t, s, &latch.SpentError{Token: t}
	}
	return t, s, nil
}

// Rotate implements latch.SessionStore. Concurrent rotations share one
// write transaction (see rotator); each caller learns its own outcome, and
// only once that transaction committed.
func (db *DB) Rotate(ctx context.Context, r latch.Rotation) (*latch.Session, *latch.User, error) {
	q, err := db.rotations.do(ctx, r)
	if err != nil {
		return nil, nil, fmt.Errorf("rotate: %w", classify(err))
	}
	return q.sess, q.user, nil
}

// rotateInTx runs one rotation of a batch in tx and records its outcome
// in q. It returns an error only when a statement failed, which aborts
// the whole batch: whatever the rotation decided (a successor stored, a
// reused family revoked) is in tx, committed with it.
func (db *DB) rotateInTx(ctx context.Context, tx *sql.Tx, q *rotateReq) error {
	r := q.r
	if r.Check != nil && r.Spend {
		// The whole decision in one statement: unspent, session active,
		// user active with a version allowing the token, not idle.
		c := r.Check
		var expires int64
		err := tx.StmtContext(ctx, db.stmts.spendChecked).QueryRowContext(ctx,
			r.Now.UnixMicro(), r.NextJTI, r.Next.IssuedAt.UnixMicro(), r.Next.ExpiresAt.UnixMicro(),
			r.Next.SessionID, r.OldHash, c.UserID, c.Version, c.IdleTimeout.Microseconds()).Scan(&expires)
		switch {
		case err == nil:
			if _, err := tx.StmtContext(ctx, db.stmts.insertToken).ExecContext(ctx,
				r.Next.Hash, r.Next.SessionID, r.Next.IssuedAt.UnixMicro(), expires); err != nil {
				return err
			}
			// What the new tokens say of the session and the user, read in
			// the writer's transaction: its pages are in the writer's
			// cache, where a reader would start a transaction of its own.
			q.sess, q.user, err = scanSessionUser(tx.StmtContext(ctx, db.stmts.sessionUser).QueryRowContext(ctx, r.Next.SessionID))
			if err == nil {
				if next := stored(r.Next.IssuedAt); next.After(q.sess.LastUsedAt) {
					q.sess.LastUsedAt = next
				}
			}
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		// No row changed: find out why (reuse revokes here, in this
		// transaction).
	}
	t, s, err := usable(ctx, tx, r.OldHash, r.Now)
	var spent *latch.SpentError
	switch {
	case errors.As(err, &spent) && !latch.InGrace(t, r.ReuseInterval, r.Now):
		// Theft: the family goes in this transaction, so no crash or
		// hang-up between finding the token spent and revoking leaves the
		// thief's branch alive.
		revoked, err := revokeInTx(ctx, tx, s.ID, latch.ReasonReuse, r.Now)
		if err != nil {
			return err
		}
		q.err = &latch.ReuseError{Session: revoked}
		return nil
	case spent != nil, errors.Is(err, latch.ErrNotFound), errors.Is(err, latch.ErrSessionRevoked):
		q.err = err
		return nil
	case err != nil:
		return err
	case r.Next.SessionID != s.ID:
		q.err = fmt.Errorf("successor names session %q, token belongs to %q", r.Next.SessionID, s.ID)
		return nil
	case r.Check != nil:
		// Usable, so the check failed (or, without Spend, was not made
		// in a statement): the caller finds out which.
		q.err = latch.ErrRotationCheck
		return nil
	}
	if r.Spend {
		res, err := tx.ExecContext(ctx,
			`UPDATE refresh_tokens SET spent_at = ?, successor_jti = ?, successor_issued_at = ?, successor_expires_at = ?
			 WHERE hash = ? AND spent_at IS NULL`,
			r.Now.UnixMicro(), r.NextJTI, r.Next.IssuedAt.UnixMicro(), r.Next.ExpiresAt.UnixMicro(), r.OldHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			q.err = latch.ErrTokenSpent
			return nil
		}
	}
	if err := insertToken(ctx, tx, &r.Next); err != nil {
		return err
	}
	if next := stored(r.Next.IssuedAt); next.After(s.LastUsedAt) {
		s.LastUsedAt = next
	}
	q.sess = s
	return nil
}

// Touch implements latch.SessionStore.
func (db *DB) Touch(ctx context.Context, hash string, now time.Time) (*latch.Session, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("touch: %w", classify(err))
	}
	defer tx.Rollback()
	_, s, err := usable(ctx, tx, hash, now)
	if err != nil {
		return nil, fmt.Errorf("touch: %w", classify(err))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_used_at = ? WHERE id = ?`, now.UnixMicro(), s.ID); err != nil {
		return nil, fmt.Errorf("touch: %w", classify(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("touch: %w", classify(err))
	}
	s.LastUsedAt = stored(now)
	return s, nil
}

// RevokeSession implements latch.SessionStore.
func (db *DB) RevokeSession(ctx context.Context, id, reason string, now time.Time) (*latch.Session, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("revoke session: %w", classify(err))
	}
	defer tx.Rollback()
	s, err := revokeInTx(ctx, tx, id, reason, now)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, fmt.Errorf("revoke session: %w", classify(err))
	}
	return s, nil
}

// revokeInTx revokes session id in tx and logs it, unless it was revoked
// already; it returns the session as revoked.
func revokeInTx(ctx context.Context, tx *sql.Tx, id, reason string, now time.Time) (*latch.Session, error) {
	s, err := scanSession(tx.QueryRowContext(ctx,
		`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL RETURNING `+returningSession,
		now.UnixMicro(), reason, id))
	if errors.Is(err, latch.ErrNotFound) {
		// Revoked before (or no such session): nothing new to log.
		return scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, id))
	}
	if err != nil {
		return nil, err
	}
	if err := logRevocation(ctx, tx, latch.RevocationRecord{SessionID: s.ID, UserID: s.UserID, At: s.RevokedAt}); err != nil {
		return nil, err
	}
	return s, nil
}

// RevokeUserSessions implements latch.SessionStore.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64, keep, reason string, now time.Time) ([]latch.Session, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	defer tx.Rollback()
	out, err := scanSessions(tx.QueryContext(ctx,
		`UPDATE sessions SET revoked_at = ?, revoke_reason = ?
		 WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?
		 RETURNING `+returningSession, now.UnixMicro(), reason, userID, now.UnixMicro(), keep))
	for i := 0; err == nil && i < len(out); i++ {
		err = logRevocation(ctx, tx, latch.RevocationRecord{SessionID: out[i].ID, UserID: userID, At: out[i].RevokedAt})
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// ActiveSessions implements latch.SessionStore.
func (db *DB) ActiveSessions(ctx context.Context, userID int64, now time.Time) ([]latch.Session, error) {
	out, err := scanSessions(db.read.QueryContext(ctx,
		`SELECT `+sessionColumns+` FROM sessions s
		 WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?
		 ORDER BY 4 DESC, s.id`, userID, now.UnixMicro())) // 4: the derived last use
	if err != nil {
		return nil, fmt.Errorf("active sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// PurgeExpired implements latch.SessionStore.
func (db *DB) PurgeExpired(ctx context.Context, cutoff time.Time) (int64, error) {
	// In batches of purgeBatch rows, each statement its own transaction:
	// a purge of many rows must not hold SQLite's only writer (which every
	// login and refresh waits for) for long. Refresh tokens first: the
	// sessions' deletes would cascade to them uncounted.
	const purgeBatch = 1000
	var total int64
	for _, table := range []string{"refresh_tokens", "sessions", "opaque_tokens"} {
		q := `DELETE FROM ` + table + ` WHERE rowid IN (SELECT rowid FROM ` + table + ` WHERE expires_at < ? LIMIT ?)`
		for {
			res, err := db.write.ExecContext(ctx, q, cutoff.UnixMicro(), purgeBatch)
			if err != nil {
				return total, fmt.Errorf("purge %s: %w", table, err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}
