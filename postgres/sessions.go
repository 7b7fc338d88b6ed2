package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var _ latch.SessionStore = (*DB)(nil)

// lastUsed is when session s was last used: a rotation does not write
// s.last_used_at (its statement stays one round trip), the issue time of
// the session's newest refresh token says it (index
// refresh_tokens_session_issued).
const lastUsed = `GREATEST(s.last_used_at, (SELECT max(r.issued_at) FROM refresh_tokens r WHERE r.session_id = s.id))`

const sessionColumns = `s.id, s.user_id, s.created_at, ` + lastUsed + `, s.expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

// rotatedSessionColumns is sessionColumns right after a rotation, whose
// successor is the session's newest token: the caller takes the later of
// last_used_at and the successor's issue time (newest), with no look at
// the other tokens.
const rotatedSessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.ip, s.revoked_at, s.revoke_reason`

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
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at, revoke_reason)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '')`,
			s.ID, s.UserID, s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.UserAgent, s.IP); err != nil {
			return err
		}
		return insertToken(ctx, tx, first)
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

func insertToken(ctx context.Context, tx pgx.Tx, t *latch.RefreshToken) error {
	_, err := tx.Exec(ctx,
		`INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.SessionID, t.IssuedAt, t.ExpiresAt)
	return err
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

// tokenQuery reads a refresh token with its session; tokenForUpdate also
// locks both rows until the end of the transaction, so that concurrent
// rotations, touches and revocations of the session take turns, and each
// sees what the one before it committed.
const (
	tokenQuery = `SELECT ` + sessionColumns + `, t.hash, t.issued_at, t.expires_at, t.spent_at, t.successor_jti, t.successor_issued_at, t.successor_expires_at
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = $1`
	tokenForUpdate = tokenQuery + ` FOR NO KEY UPDATE`
)

func tokenWithSession(ctx context.Context, q querier, query, hash string) (*latch.RefreshToken, *latch.Session, error) {
	var t latch.RefreshToken
	var spent, succIssued, succExpires *time.Time
	var succJTI *string
	s, err := scanSession(q.QueryRow(ctx, query, hash),
		&t.Hash, &t.IssuedAt, &t.ExpiresAt, &spent, &succJTI, &succIssued, &succExpires)
	if err != nil {
		return nil, nil, err
	}
	t.SessionID = s.ID
	t.IssuedAt, t.ExpiresAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC()
	t.SpentAt = fromNull(spent)
	if succJTI != nil {
		t.Successor = &latch.Successor{JTI: *succJTI, IssuedAt: fromNull(succIssued), ExpiresAt: fromNull(succExpires)}
	}
	return &t, s, nil
}

// RefreshToken implements latch.SessionStore.
func (db *DB) RefreshToken(ctx context.Context, hash string) (*latch.RefreshToken, *latch.Session, error) {
	t, s, err := tokenWithSession(ctx, db.pool, tokenQuery, hash)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh token: %w", err)
	}
	return t, s, nil
}

// usable loads and locks the token in tx and checks it may be refreshed
// at now. A spent token comes back with its session and a *SpentError.
func usable(ctx context.Context, tx pgx.Tx, hash string, now time.Time) (*latch.RefreshToken, *latch.Session, error) {
	t, s, err := tokenWithSession(ctx, tx, tokenForUpdate, hash)
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

// markUsed sets the session's last use and returns the session.
func markUsed(ctx context.Context, tx pgx.Tx, id string, now time.Time) (*latch.Session, error) {
	return scanSession(tx.QueryRow(ctx,
		`UPDATE sessions AS s SET last_used_at = $1 WHERE s.id = $2 RETURNING `+sessionColumns, now, id))
}

// rotateChecked is a whole rotation with its Rotation.Check in one
// statement, so one round trip: spend the unspent token if its session is
// active, of the user, not idle, and the user active with a version that
// allows the token; store the successor (its expiry capped at the
// session's end); return the session and the user. It returns no row when
// any of that fails. Concurrent rotations of one token queue on its row
// lock; the ones after the first find it spent when PostgreSQL rechecks
// the WHERE clause. Parameters: 1 now, 2 successor jti, 3 successor
// issued, 4 successor expires, 5 session, 6 old hash, 7 user, 8 ver
// claim, 9 idle timeout (us, 0: none), 10 successor hash.
var rotateChecked = `WITH spent AS (
	UPDATE refresh_tokens t
	SET spent_at = $1, successor_jti = $2, successor_issued_at = $3,
		successor_expires_at = LEAST($4::timestamptz, s.expires_at)
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE t.hash = $6 AND t.spent_at IS NULL AND t.session_id = $5 AND s.id = t.session_id
		AND s.revoked_at IS NULL AND s.expires_at > $1 AND s.user_id = $7 AND u.is_active
		AND (u.token_version <= $8 OR (u.version_keep_session = s.id AND u.version_keep_from <= $8))
		AND ($9::bigint <= 0 OR ` + lastUsed + ` >= $1 - $9::bigint * interval '1 microsecond')
	RETURNING t.session_id, t.successor_issued_at, t.successor_expires_at
), next AS (
	INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
	SELECT $10, session_id, successor_issued_at, successor_expires_at FROM spent
)
SELECT ` + rotatedSessionColumns + `, spent.successor_issued_at, ` + qualifiedUserColumns + `
FROM spent JOIN sessions s ON s.id = spent.session_id JOIN users u ON u.id = s.user_id`

// qualifiedUserColumns is userColumns of the users table aliased u.
var qualifiedUserColumns = "u." + strings.ReplaceAll(userColumns, ", ", ", u.")

// scanFunc adapts a function to pgx.Row.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// Rotate implements latch.SessionStore.
func (db *DB) Rotate(ctx context.Context, r latch.Rotation) (*latch.Session, *latch.User, error) {
	if r.Check != nil && r.Spend {
		q, err := db.rotations.do(ctx, r)
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("rotate: %w", classify(err))
		case q.sess != nil:
			return q.sess, q.user, nil
		}
		// No row changed: find out why (reuse revokes there, in one
		// transaction with finding the token spent).
	}
	var out *latch.Session
	var refused error
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		refused = nil
		// Concurrent rotations of one token wait here for the first to
		// commit, then find the token spent.
		t, s, err := usable(ctx, tx, r.OldHash, r.Now)
		var spent *latch.SpentError
		if errors.As(err, &spent) && !latch.InGrace(t, r.ReuseInterval, r.Now) {
			// Theft: the family goes in this transaction, so no crash or
			// hang-up between finding the token spent and revoking leaves
			// the thief's branch alive. Committed, then reported.
			revoked, err := db.revokeInTx(ctx, tx, s.ID, latch.ReasonReuse, r.Now)
			if err != nil {
				return err
			}
			refused = &latch.ReuseError{Session: revoked}
			return nil
		}
		if err != nil {
			return err
		}
		if r.Next.SessionID != s.ID {
			return fmt.Errorf("successor names session %q, token belongs to %q", r.Next.SessionID, s.ID)
		}
		if r.Check != nil {
			// Usable, so the check failed (or, without Spend, was not
			// made in a statement): the caller finds out which.
			refused = latch.ErrRotationCheck
			return nil
		}
		if r.Spend {
			tag, err := tx.Exec(ctx,
				`UPDATE refresh_tokens SET spent_at = $1, successor_jti = $2, successor_issued_at = $3, successor_expires_at = $4
				 WHERE hash = $5 AND spent_at IS NULL`,
				r.Now, r.NextJTI, r.Next.IssuedAt, r.Next.ExpiresAt, r.OldHash)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				// Cannot happen while usable holds the row lock; if it
				// did, this transaction must not store a successor.
				return latch.ErrTokenSpent
			}
		}
		if err := insertToken(ctx, tx, &r.Next); err != nil {
			return err
		}
		if next := r.Next.IssuedAt.Truncate(time.Microsecond).UTC(); next.After(s.LastUsedAt) {
			s.LastUsedAt = next
		}
		out = s
		return nil
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
func (db *DB) Touch(ctx context.Context, hash string, now time.Time) (*latch.Session, error) {
	var out *latch.Session
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		_, s, err := usable(ctx, tx, hash, now)
		if err != nil {
			return err
		}
		out, err = markUsed(ctx, tx, s.ID, now)
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
		out, err = scanSessions(tx.Query(ctx,
			`UPDATE sessions AS s SET revoked_at = $1, revoke_reason = $2
			 WHERE s.user_id = $3 AND s.revoked_at IS NULL AND s.expires_at > $1 AND s.id <> $4
			 RETURNING `+sessionColumns, now, reason, userID, keep))
		if err != nil {
			return err
		}
		rs := make([]latch.RevocationRecord, len(out))
		for i := range out {
			rs[i] = latch.RevocationRecord{SessionID: out[i].ID, UserID: userID, At: out[i].RevokedAt}
		}
		return db.logRevocation(ctx, tx, rs...)
	})
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	return out, nil
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
