package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var _ latch.SessionStore = (*DB)(nil)

// lastUsed is when session s was last used: when its current refresh
// token was issued, or when a refresh without rotation touched it (a
// rotation writes the one, Touch the other).
const lastUsed = `GREATEST(s.last_used_at, s.refresh_issued_at)`

const sessionColumns = `s.id, s.user_id, s.created_at, ` + lastUsed + `, s.expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

// familyColumns are a session's current refresh token and the one it
// replaced.
const familyColumns = `s.refresh_hash, s.refresh_jti, s.refresh_issued_at, s.refresh_expires_at,
	s.replaced_hash, s.replaced_issued_at, s.replaced_expires_at, s.replaced_at`

// family scans familyColumns.
type family struct {
	hash, jti       string
	issued, expires time.Time
	replacedHash    string
	replacedIssued  time.Time
	replacedExpires time.Time
	replacedAt      *time.Time
}

func (f *family) dest() []any {
	return []any{&f.hash, &f.jti, &f.issued, &f.expires, &f.replacedHash, &f.replacedIssued, &f.replacedExpires, &f.replacedAt}
}

func (f *family) of(sid string) *latch.Family {
	return &latch.Family{
		SessionID:  sid,
		Current:    latch.RefreshToken{Hash: f.hash, SessionID: sid, IssuedAt: f.issued.UTC(), ExpiresAt: f.expires.UTC()},
		CurrentJTI: f.jti,
		Replaced: latch.RefreshToken{Hash: f.replacedHash, SessionID: sid, IssuedAt: f.replacedIssued.UTC(),
			ExpiresAt: f.replacedExpires.UTC(), SpentAt: fromNull(f.replacedAt)},
	}
}

func scanSession(row pgx.Row, extra ...any) (*latch.Session, error) {
	var s latch.Session
	var revoked *time.Time
	dest := append([]any{&s.ID, &s.UserID, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt, &s.UserAgent, &s.IP, &revoked, &s.RevokeReason}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, latch.ErrNotFound
		}
		return nil, err
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.ExpiresAt.UTC()
	s.RevokedAt = fromNull(revoked)
	return &s, nil
}

func scanSessions(rows pgx.Rows, err error) ([]latch.Session, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (latch.Session, error) {
		s, err := scanSession(row)
		if err != nil {
			return latch.Session{}, err
		}
		return *s, nil
	})
}

// CreateSession implements latch.SessionStore.
func (db *DB) CreateSession(ctx context.Context, s *latch.Session, first *latch.RefreshToken) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at, revoke_reason,
				refresh_hash, refresh_issued_at, refresh_expires_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '', $8, $9, $10)`,
			s.ID, s.UserID, s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.UserAgent, s.IP, first.Hash, first.IssuedAt, first.ExpiresAt); err != nil {
			return err
		}
		// The first token's record finds the session by the hash alone.
		_, err := tx.Exec(ctx,
			`INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)`,
			first.Hash, s.ID, first.IssuedAt, first.ExpiresAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session implements latch.SessionStore.
func (db *DB) Session(ctx context.Context, id string) (*latch.Session, error) {
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return s, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// familyQuery reads a session with its family; familyForUpdate also
// locks the row until the end of the transaction, so that concurrent
// rotations, touches and revocations of the session take turns, and each
// sees what the one before it committed.
const (
	familyQuery     = `SELECT ` + sessionColumns + `, ` + familyColumns + ` FROM sessions s WHERE s.id = $1`
	familyForUpdate = familyQuery + ` FOR NO KEY UPDATE`
)

func sessionFamily(ctx context.Context, q querier, query, sid string) (*latch.Session, *latch.Family, error) {
	var f family
	s, err := scanSession(q.QueryRow(ctx, query, sid), f.dest()...)
	if err != nil {
		return nil, nil, err
	}
	return s, f.of(sid), nil
}

// RefreshToken implements latch.SessionStore.
func (db *DB) RefreshToken(ctx context.Context, sid, hash string) (*latch.RefreshToken, *latch.Session, error) {
	if sid == "" {
		err := db.pool.QueryRow(ctx, `SELECT session_id FROM refresh_tokens WHERE hash = $1`, hash).Scan(&sid)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, fmt.Errorf("refresh token: %w", latch.ErrNotFound)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("refresh token: %w", err)
		}
	}
	s, f, err := sessionFamily(ctx, db.pool, familyQuery, sid)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh token: %w", err)
	}
	return f.Token(hash), s, nil
}

// rotateSet makes the successor the session's current token and the
// current one its replaced token. Parameters: 1 now, 2 successor hash,
// 3 successor jti, 4 successor issued, 5 successor expires (capped at the
// session's end), 6 session.
const rotateSet = `UPDATE sessions s SET
	replaced_hash = s.refresh_hash, replaced_issued_at = s.refresh_issued_at, replaced_expires_at = s.refresh_expires_at, replaced_at = $1,
	refresh_hash = $2, refresh_jti = $3, refresh_issued_at = $4, refresh_expires_at = LEAST($5::timestamptz, s.expires_at)`

// Rotate implements latch.SessionStore.
func (db *DB) Rotate(ctx context.Context, r latch.Rotation) (*latch.Session, *latch.User, error) {
	if r.Check != nil && r.Spend {
		out, err := db.rotations.batch.Do(ctx, r)
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("rotate: %w", classify(err))
		case out.sess != nil:
			return out.sess, out.user, nil
		}
		// No row changed: find out why (reuse revokes there, in one
		// transaction with finding the token spent).
	}
	sid := r.Next.SessionID
	var out *latch.Session
	var refused error
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		refused = nil
		// Concurrent rotations of one session wait here for the first to
		// commit, then find another current token.
		s, f, err := sessionFamily(ctx, tx, familyForUpdate, sid)
		switch {
		case errors.Is(err, latch.ErrNotFound):
			refused = err
			return nil
		case err != nil:
			return err
		case !s.Active(r.Now):
			refused = latch.ErrSessionRevoked
			return nil
		}
		if t := f.Token(r.OldHash); !t.SpentAt.IsZero() && r.Spend {
			if latch.InGrace(t, r.ReuseInterval, r.Now) {
				refused = &latch.SpentError{Token: t}
				return nil
			}
			// Theft: the family goes in this transaction, so no crash or
			// hang-up between finding the token spent and revoking leaves
			// the thief's branch alive. Committed, then reported.
			revoked, err := db.revokeInTx(ctx, tx, sid, latch.ReasonReuse, r.Now)
			if err != nil {
				return err
			}
			refused = &latch.ReuseError{Session: revoked}
			return nil
		}
		if r.Check != nil {
			// Usable, so the check failed: the caller finds out which.
			refused = latch.ErrRotationCheck
			return nil
		}
		out, err = scanSession(tx.QueryRow(ctx, rotateSet+` WHERE s.id = $6 RETURNING `+sessionColumns,
			r.Now, r.Next.Hash, r.NextJTI, r.Next.IssuedAt, r.Next.ExpiresAt, sid))
		return err
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rotate: %w", err)
	}
	return out, nil, nil
}

// Touch implements latch.SessionStore.
func (db *DB) Touch(ctx context.Context, sid, hash string, now time.Time) (*latch.Session, error) {
	var out *latch.Session
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		s, f, err := sessionFamily(ctx, tx, familyForUpdate, sid)
		switch {
		case err != nil:
			return err
		case !s.Active(now):
			return latch.ErrSessionRevoked
		}
		if t := f.Token(hash); !t.SpentAt.IsZero() {
			return &latch.SpentError{Token: t}
		}
		out, err = scanSession(tx.QueryRow(ctx,
			`UPDATE sessions AS s SET last_used_at = $1 WHERE s.id = $2 RETURNING `+sessionColumns, now, sid))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("touch: %w", err)
	}
	return out, nil
}

// RevokeSession implements latch.SessionStore.
func (db *DB) RevokeSession(ctx context.Context, id, reason string, now time.Time) (*latch.Session, error) {
	var out *latch.Session
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = db.revokeInTx(ctx, tx, id, reason, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke session: %w", err)
	}
	return out, nil
}

// revokeInTx revokes session id in tx and logs it, unless it was revoked
// already; it returns the session as revoked.
func (db *DB) revokeInTx(ctx context.Context, tx pgx.Tx, id, reason string, now time.Time) (*latch.Session, error) {
	s, err := scanSession(tx.QueryRow(ctx,
		`UPDATE sessions AS s SET revoked_at = $1, revoke_reason = $2
		 WHERE s.id = $3 AND s.revoked_at IS NULL RETURNING `+sessionColumns, now, reason, id))
	if errors.Is(err, latch.ErrNotFound) {
		// Revoked before (or no such session): nothing new to log.
		return scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1`, id))
	}
	if err != nil {
		return nil, err
	}
	return s, db.logRevocation(ctx, tx, latch.RevocationRecord{SessionID: s.ID, UserID: s.UserID, At: s.RevokedAt})
}

// RevokeUserSessions implements latch.SessionStore.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64, keep, reason string, now time.Time) ([]latch.Session, error) {
	var out []latch.Session
	// It locks many rows, so it may deadlock (and be retried).
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = db.revokeUserInTx(ctx, tx, userID, keep, reason, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// revokeUserInTx revokes the user's active sessions but keep in tx and
// logs them.
func (db *DB) revokeUserInTx(ctx context.Context, tx pgx.Tx, userID int64, keep, reason string, now time.Time) ([]latch.Session, error) {
	out, err := scanSessions(tx.Query(ctx,
		`UPDATE sessions AS s SET revoked_at = $1, revoke_reason = $2
		 WHERE s.user_id = $3 AND s.revoked_at IS NULL AND s.expires_at > $1 AND s.id <> $4
		 RETURNING `+sessionColumns, now, reason, userID, keep))
	if err != nil {
		return nil, err
	}
	rs := make([]latch.RevocationRecord, len(out))
	for i := range out {
		rs[i] = latch.RevocationRecord{SessionID: out[i].ID, UserID: userID, At: out[i].RevokedAt}
	}
	return out, db.logRevocation(ctx, tx, rs...)
}

// ActiveSessions implements latch.SessionStore.
func (db *DB) ActiveSessions(ctx context.Context, userID int64, now time.Time) ([]latch.Session, error) {
	// COLLATE "C" breaks ties in byte order, as SQLite does.
	out, err := scanSessions(db.pool.Query(ctx,
		`SELECT `+sessionColumns+` FROM sessions s
		 WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
		 ORDER BY 4 DESC, s.id COLLATE "C"`, userID, now))
	if err != nil {
		return nil, fmt.Errorf("active sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// PurgeExpired implements latch.SessionStore.
func (db *DB) PurgeExpired(ctx context.Context, cutoff time.Time) (int64, error) {
	// In batches of purgeBatch rows, each statement its own transaction,
	// so that a purge of many rows never holds locks (or a long
	// transaction) that logins and refreshes would wait behind. Refresh
	// tokens first: the sessions' deletes would cascade to them uncounted.
	const purgeBatch = 1000
	var total int64
	for _, t := range []struct{ table, key string }{{"refresh_tokens", "hash"}, {"sessions", "id"}, {"opaque_tokens", "hash"}} {
		q := `DELETE FROM ` + t.table + ` WHERE ` + t.key + ` IN (SELECT ` + t.key + ` FROM ` + t.table + ` WHERE expires_at < $1 LIMIT $2)`
		for {
			var n int64
			err := retry(ctx, func() error {
				tag, err := db.pool.Exec(ctx, q, cutoff, purgeBatch)
				n = tag.RowsAffected()
				return err
			})
			if err != nil {
				return total, fmt.Errorf("purge %s: %w", t.table, err)
			}
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}
