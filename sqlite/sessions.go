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

// lastUsed is when session s was last used: when its current refresh
// token was issued, or when a refresh without rotation touched it (a
// rotation writes the one, Touch the other).
const lastUsed = `MAX(s.last_used_at, s.refresh_issued_at)`

const sessionColumns = `s.id, s.user_id, s.created_at, ` + lastUsed + `, s.expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

// returningSession is sessionColumns for a RETURNING clause, where SQLite
// accepts no table qualifier.
const returningSession = `id, user_id, created_at, MAX(last_used_at, refresh_issued_at), expires_at, user_agent, ip, revoked_at, revoke_reason`

// familyColumns are a session's current refresh token and the one it
// replaced.
const familyColumns = `s.refresh_hash, s.refresh_jti, s.refresh_issued_at, s.refresh_expires_at,
	s.replaced_hash, s.replaced_issued_at, s.replaced_expires_at, s.replaced_at`

// family scans familyColumns.
type family struct {
	hash, jti       string
	issued, expires int64
	replacedHash    string
	replacedIssued  int64
	replacedExpires int64
	replacedAt      sql.NullInt64
}

func (f *family) dest() []any {
	return []any{&f.hash, &f.jti, &f.issued, &f.expires, &f.replacedHash, &f.replacedIssued, &f.replacedExpires, &f.replacedAt}
}

func (f *family) of(sid string) *latch.Family {
	return &latch.Family{
		SessionID:  sid,
		Current:    latch.RefreshToken{Hash: f.hash, SessionID: sid, IssuedAt: fromMicro(f.issued), ExpiresAt: fromMicro(f.expires)},
		CurrentJTI: f.jti,
		Replaced: latch.RefreshToken{Hash: f.replacedHash, SessionID: sid, IssuedAt: fromMicro(f.replacedIssued),
			ExpiresAt: fromMicro(f.replacedExpires), SpentAt: fromDB(f.replacedAt)},
	}
}

// sessionFamily reads session sid with its family.
func sessionFamily(ctx context.Context, q querier, sid string) (*latch.Session, *latch.Family, error) {
	var f family
	s, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionColumns+`, `+familyColumns+` FROM sessions s WHERE s.id = ?`, sid), f.dest()...)
	if err != nil {
		return nil, nil, err
	}
	return s, f.of(sid), nil
}

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
		`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at, revoke_reason,
			refresh_hash, refresh_issued_at, refresh_expires_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, NULL, '', ?, ?, ?)`,
		s.ID, s.UserID, s.CreatedAt.UnixMicro(), s.LastUsedAt.UnixMicro(), s.ExpiresAt.UnixMicro(), s.UserAgent, s.IP,
		first.Hash, first.IssuedAt.UnixMicro(), first.ExpiresAt.UnixMicro()); err != nil {
		return fmt.Errorf("create session: %w", classify(err))
	}
	// The first token's record finds the session by the hash alone.
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)`,
		first.Hash, s.ID, first.IssuedAt.UnixMicro(), first.ExpiresAt.UnixMicro()); err != nil {
		return fmt.Errorf("create session: %w", classify(err))
	}
	return tx.Commit()
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

// RefreshToken implements latch.SessionStore.
func (db *DB) RefreshToken(ctx context.Context, sid, hash string) (*latch.RefreshToken, *latch.Session, error) {
	if sid == "" {
		err := db.read.QueryRowContext(ctx, `SELECT session_id FROM refresh_tokens WHERE hash = ?`, hash).Scan(&sid)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, fmt.Errorf("refresh token: %w", latch.ErrNotFound)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("refresh token: %w", classify(err))
		}
	}
	s, f, err := sessionFamily(ctx, db.read, sid)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh token: %w", classify(err))
	}
	return f.Token(hash), s, nil
}

// Rotate implements latch.SessionStore. Concurrent rotations share one
// write transaction (see rotator); each caller learns its own outcome, and
// only once that transaction committed.
func (db *DB) Rotate(ctx context.Context, r latch.Rotation) (*latch.Session, *latch.User, error) {
	out, err := db.rotations.batch.Do(ctx, r)
	if err != nil {
		return nil, nil, fmt.Errorf("rotate: %w", classify(err))
	}
	return out.sess, out.user, nil
}

// rotateInTx runs one rotation of a batch in tx and records its outcome
// in q: Out, or its own refusal in Err. It returns an error only when a
// statement failed, which aborts the whole batch: whatever the rotation
// decided (a successor made current, a reused family revoked) is in tx,
// committed with it.
func (db *DB) rotateInTx(ctx context.Context, tx *sql.Tx, q *rotation) error {
	r := q.In
	sid := r.Next.SessionID
	next := []any{r.Now.UnixMicro(), r.Next.Hash, r.NextJTI, r.Next.IssuedAt.UnixMicro(), r.Next.ExpiresAt.UnixMicro(), sid}
	if c := r.Check; c != nil && r.Spend {
		// The whole decision in one statement: the token is the
		// session's current one, the session active, the user active
		// with a version allowing the token, the session not idle.
		s, err := scanSession(tx.StmtContext(ctx, db.stmts.rotateChecked).QueryRowContext(ctx,
			append(next, r.OldHash, c.UserID, c.Version, c.IdleTimeout.Microseconds())...))
		switch {
		case err == nil:
			u, err := scanUser(tx.StmtContext(ctx, db.stmts.user).QueryRowContext(ctx, c.UserID))
			if err != nil {
				return err
			}
			q.Out = rotated{s, u}
			return nil
		case !errors.Is(err, latch.ErrNotFound):
			return err
		}
		// No row changed: find out why (reuse revokes here, in this
		// transaction).
	}
	s, f, err := sessionFamily(ctx, tx, sid)
	switch {
	case errors.Is(err, latch.ErrNotFound):
		q.Err = err
		return nil
	case err != nil:
		return err
	case !s.Active(r.Now):
		q.Err = latch.ErrSessionRevoked
		return nil
	}
	if t := f.Token(r.OldHash); !t.SpentAt.IsZero() && r.Spend {
		if latch.InGrace(t, r.ReuseInterval, r.Now) {
			q.Err = &latch.SpentError{Token: t}
			return nil
		}
		// Theft: the family goes in this transaction, so no crash or
		// hang-up between finding the token spent and revoking leaves the
		// thief's branch alive.
		revoked, err := revokeInTx(ctx, tx, sid, latch.ReasonReuse, r.Now)
		if err != nil {
			return err
		}
		q.Err = &latch.ReuseError{Session: revoked}
		return nil
	}
	if r.Check != nil {
		// Usable, so the check failed: the caller finds out which.
		q.Err = latch.ErrRotationCheck
		return nil
	}
	q.Out.sess, err = scanSession(tx.StmtContext(ctx, db.stmts.rotate).QueryRowContext(ctx, next...))
	return err
}

// Touch implements latch.SessionStore.
func (db *DB) Touch(ctx context.Context, sid, hash string, now time.Time) (*latch.Session, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("touch: %w", classify(err))
	}
	defer tx.Rollback()
	s, f, err := sessionFamily(ctx, tx, sid)
	switch {
	case err != nil:
		return nil, fmt.Errorf("touch: %w", classify(err))
	case !s.Active(now):
		return nil, fmt.Errorf("touch: %w", latch.ErrSessionRevoked)
	}
	if t := f.Token(hash); !t.SpentAt.IsZero() {
		return nil, fmt.Errorf("touch: %w", &latch.SpentError{Token: t})
	}
	s, err = scanSession(tx.QueryRowContext(ctx,
		`UPDATE sessions SET last_used_at = ? WHERE id = ? RETURNING `+returningSession, now.UnixMicro(), sid))
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, fmt.Errorf("touch: %w", classify(err))
	}
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
	out, err := revokeUserInTx(ctx, tx, userID, keep, reason, now)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// revokeUserInTx revokes the user's active sessions but keep in tx and
// logs each.
func revokeUserInTx(ctx context.Context, tx *sql.Tx, userID int64, keep, reason string, now time.Time) ([]latch.Session, error) {
	out, err := scanSessions(tx.QueryContext(ctx,
		`UPDATE sessions SET revoked_at = ?, revoke_reason = ?
		 WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?
		 RETURNING `+returningSession, now.UnixMicro(), reason, userID, now.UnixMicro(), keep))
	for i := 0; err == nil && i < len(out); i++ {
		err = logRevocation(ctx, tx, latch.RevocationRecord{SessionID: out[i].ID, UserID: userID, At: out[i].RevokedAt})
	}
	return out, err
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
