package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latch-auth/latch"
)

var _ latch.RevocationLog = (*DB)(nil)

// logRevocation appends r to the revocation log inside tx. Seq comes from
// AUTOINCREMENT: with a single writer, seq order is commit order.
func logRevocation(ctx context.Context, tx *sql.Tx, r latch.RevocationRecord) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO revocations (session_id, user_id, version, keep_session, keep_from, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.SessionID, r.UserID, r.Version.Version, r.Version.KeepSession, r.Version.KeepFrom, r.At.UnixMicro())
	if err != nil {
		return fmt.Errorf("log revocation: %w", classify(err))
	}
	return nil
}

// RevocationsAfter implements latch.RevocationLog.
func (db *DB) RevocationsAfter(ctx context.Context, after int64, limit int) ([]latch.RevocationRecord, error) {
	rows, err := db.read.QueryContext(ctx,
		`SELECT seq, session_id, user_id, version, keep_session, keep_from, revoked_at
		 FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("revocations after %d: %w", after, err)
	}
	defer rows.Close()
	var out []latch.RevocationRecord
	for rows.Next() {
		var r latch.RevocationRecord
		var v latch.TokenVersion
		var at int64
		if err := rows.Scan(&r.Seq, &r.SessionID, &r.UserID, &v.Version, &v.KeepSession, &v.KeepFrom, &at); err != nil {
			return nil, fmt.Errorf("revocations after %d: %w", after, err)
		}
		if r.SessionID == "" {
			v.UserID = r.UserID
			r.Version = v
		}
		r.At = fromMicro(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revocations after %d: %w", after, err)
	}
	return out, nil
}

// PruneRevocations implements latch.RevocationLog.
func (db *DB) PruneRevocations(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	res, err := db.write.ExecContext(ctx,
		`DELETE FROM revocations WHERE seq IN (SELECT seq FROM revocations WHERE revoked_at < ? ORDER BY seq LIMIT ?)`,
		cutoff.UnixMicro(), limit)
	if err != nil {
		return 0, fmt.Errorf("prune revocations: %w", classify(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}
