package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

var _ latch.RevocationLog = (*DB)(nil)

// logRevocation appends r to the revocation log inside tx. The advisory
// lock, held until tx ends, makes appends take turns: a sequence value is
// drawn only by the holder, so seq order is commit order and a reader that
// sees seq n also sees every lower one. It is taken last, just before the
// commit, to be held briefly.
func (db *DB) logRevocation(ctx context.Context, tx pgx.Tx, rs ...latch.RevocationRecord) error {
	if len(rs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.logLock); err != nil {
		return fmt.Errorf("log revocation: %w", err)
	}
	for _, r := range rs {
		if _, err := tx.Exec(ctx,
			`INSERT INTO revocations (session_id, user_id, version, keep_session, keep_from, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			r.SessionID, r.UserID, r.Version.Version, r.Version.KeepSession, r.Version.KeepFrom, r.At); err != nil {
			return fmt.Errorf("log revocation: %w", err)
		}
	}
	return nil
}

// RevocationsAfter implements latch.RevocationLog.
func (db *DB) RevocationsAfter(ctx context.Context, after int64, limit int) ([]latch.RevocationRecord, error) {
	rows, _ := db.pool.Query(ctx,
		`SELECT seq, session_id, user_id, version, keep_session, keep_from, revoked_at
		 FROM revocations WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (latch.RevocationRecord, error) {
		var r latch.RevocationRecord
		var v latch.TokenVersion
		if err := row.Scan(&r.Seq, &r.SessionID, &r.UserID, &v.Version, &v.KeepSession, &v.KeepFrom, &r.At); err != nil {
			return r, err
		}
		if r.SessionID == "" {
			v.UserID = r.UserID
			r.Version = v
		}
		r.At = r.At.UTC()
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("revocations after %d: %w", after, err)
	}
	return out, nil
}

// PruneRevocations implements latch.RevocationLog.
func (db *DB) PruneRevocations(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := db.pool.Exec(ctx,
		`DELETE FROM revocations WHERE seq IN (SELECT seq FROM revocations WHERE revoked_at < $1 ORDER BY seq LIMIT $2)`,
		cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("prune revocations: %w", err)
	}
	return tag.RowsAffected(), nil
}
