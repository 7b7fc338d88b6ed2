package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/groupcommit"
)

// Checked rotations (a refresh's) are group-committed: the ones that
// arrive while a batch is on its way go together in the next statement,
// one round trip and one transaction for all of them, so that a fleet of
// clients refreshing at once costs PostgreSQL one statement per batch
// rather than one per client.
const (
	maxBatch = 64
	// One batch is in flight at a time (groupcommit): the rotations that
	// arrive meanwhile make the next one bigger. Two in flight measured no
	// faster, with smaller batches.
	batchTimeout = 10 * time.Second
	// batchHold is how long a batch smaller than the one before waits for
	// company (groupcommit.NewHolding). Clients come back in waves, each
	// answered batch at once: without a hold, the first of a wave went
	// alone and the rest made the next batch, and half of the statements
	// at 8 clients were batches of one. A statement costs PostgreSQL
	// ~100 µs of CPU whatever its size up to a few rotations. Measured at
	// 8 clients (PostgreSQL's CPU per refresh; average batch): no hold
	// 52–60 µs, 2.8; 100 µs 39, 3.7; 400 µs 35, 4.4; 800 µs 32, 5–6; and
	// in pairs on a slower host, 2 ms beat 1 ms and 1 ms beat 500 µs in
	// every pair (refreshes per INSERT, medians of 4 pairs: 0.55 against
	// 0.44, 0.53 against 0.49): the slower the machine, the wider a wave.
	// A hold ends as soon as the batch is as big as the one before, and
	// happens only when that one was bigger: at most 2 ms, for the first
	// of a wave, on a call each client makes every few minutes.
	batchHold = 2 * time.Millisecond
)

// rotator packs checked rotations into batches, which it runs on
// connections of its own: connections whose planner scans no table whole
// and hashes or merges no join where it has another way, so that its
// statements find every session and user by primary key, as they are
// meant to, at any table size. Left to its statistics, PostgreSQL plans
// them, as generic plans, with a sequential scan of sessions while the
// table is small (a few pages), and then evaluates the rotations' whole
// condition for every session in the table against every rotation: three
// times the CPU of the index plan for a batch of three rotations in a
// table of 64 sessions, and more as the table grows until the plan
// changes.
type rotator struct {
	conns      conns
	batch      *groupcommit.Batcher[latch.Rotation, rotated]
	statements []string // rotateManyStatements(maxBatch)
}

// rotatorConns is at most how many connections the rotator opens. One
// batch runs at a time; the second connection is there for when the
// pool's background health check holds the idle one.
const rotatorConns = 2

// rotated is a checked rotation's outcome: the session and user when it
// happened, neither when it did not (the caller then finds out why).
type rotated struct {
	sess *latch.Session
	user *latch.User
}

type rotation = groupcommit.Call[latch.Rotation, rotated]

// newRotator makes a rotator on the database cfg configures a pool for;
// its connections open when the first rotation needs one.
func newRotator(cfg *pgxpool.Config) (*rotator, error) {
	cfg = cfg.Copy()
	cfg.MaxConns, cfg.MinConns = rotatorConns, 0
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	for _, plan := range []string{"enable_seqscan", "enable_hashjoin", "enable_mergejoin"} {
		cfg.ConnConfig.RuntimeParams[plan] = "off"
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: rotation connections: %w", err)
	}
	w := &rotator{conns: conns{pool}, statements: rotateManyStatements(maxBatch)}
	w.batch = groupcommit.NewHolding(maxBatch, batchHold, w.runBatch)
	return w, nil
}

// close runs the rotations queued so far, then closes the connections.
func (w *rotator) close() {
	w.batch.Close()
	w.conns.Close()
}

func (w *rotator) runBatch(batch []*rotation) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := w.rotateMany(ctx, batch)
	switch {
	case err == nil:
	case len(batch) == 1:
		batch[0].Err = err
	default:
		// The batch failed (a deadlock with another instance's batch,
		// say): each rotation in a statement of its own, so that one
		// rotation's failure is not every caller's.
		for _, c := range batch {
			c.Err = w.rotateMany(ctx, []*rotation{c})
		}
	}
}

// rotateManySQL is a batch of whole rotations, each with its
// Rotation.Check, in one statement, so one round trip: the token must be
// the session's current one, the session active, of the user, not idle,
// and the user active with a version that allows the token. The
// rotations come in as a VALUES list, and the rows that come back (the
// session after the rotation and the user, signedColumns) name the ones
// that happened by their index in the batch; no row for a rotation when
// any of that fails. Concurrent rotations of one session queue on its
// row lock; the ones after the first find another current token when
// PostgreSQL rechecks the WHERE clause. Two rotations of one session in
// a batch update its row once: the one whose row comes back won, the
// other finds another current token on its own. Users are joined
// to the rotations, and a session's user compared with IS NOT DISTINCT
// FROM (no equivalence the planner could follow), so that sessions are
// found by their key, never through sessions_user_id: that would read
// every session of the user for each rotation.
//
// A VALUES list rather than arrays through unnest: PostgreSQL materializes
// a multi-array unnest and hashes it for every execution, a fixed cost of
// ~50 µs of its CPU per statement where VALUES costs ~20 (measured with
// the batch sizes a few clients make, 2 to 4). Each batch size is its own
// statement, prepared once per connection: up to maxBatch of them, a
// prepare round trip each the first time a connection meets that size.
//
// It is a template: %s takes the list, and the statement ends with the
// columns returned after the index (see rotateManyStatements).
const rotateManySQL = `UPDATE sessions s SET
	replaced_hash = s.refresh_hash, replaced_issued_at = s.refresh_issued_at, replaced_expires_at = s.refresh_expires_at, replaced_at = i.now,
	refresh_hash = i.next_hash, refresh_jti = i.next_jti, refresh_issued_at = i.issued, refresh_expires_at = LEAST(i.expires, s.expires_at)
FROM (VALUES %s) AS i(idx, now, next_hash, next_jti, issued, expires, session_id, old_hash, user_id, ver, idle)
	JOIN users u ON u.id = i.user_id
WHERE s.id = i.session_id AND s.refresh_hash = i.old_hash AND s.revoked_at IS NULL AND s.expires_at > i.now
	AND s.user_id IS NOT DISTINCT FROM i.user_id AND u.is_active
	AND (u.token_version <= i.ver OR (u.version_keep_session = s.id AND u.version_keep_from <= i.ver))
	AND (i.idle <= 0 OR GREATEST(s.last_used_at, s.refresh_issued_at) >= i.now - i.idle * interval '1 microsecond')
RETURNING i.idx, `

// rotateManyColumns is the number of values of one rotation in the list.
const rotateManyColumns = 11

// rotateManyStatements returns rotateManySQL for each batch size up to
// most (index n holds the statement for n rotations).
func rotateManyStatements(most int) []string {
	out := make([]string, most+1)
	var list strings.Builder
	for n := 1; n <= most; n++ {
		p := (n - 1) * rotateManyColumns
		if n == 1 {
			// The first row's casts type the columns.
			fmt.Fprintf(&list, "($%d::int, $%d::timestamptz, $%d::text, $%d::text, $%d::timestamptz, $%d::timestamptz, $%d::text, $%d::text, $%d::bigint, $%d::bigint, $%d::bigint)",
				p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+11)
		} else {
			fmt.Fprintf(&list, ", ($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
				p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+11)
		}
		out[n] = fmt.Sprintf(rotateManySQL, list.String()) + signedColumns
	}
	return out
}

// rotateMany runs batch in one statement and records each rotation's
// session and user in it; a rotation that did not happen keeps neither.
func (w *rotator) rotateMany(ctx context.Context, batch []*rotation) error {
	n := len(batch)
	args := make([]any, 0, n*rotateManyColumns)
	for i, c := range batch {
		r := c.In
		c.Out, c.Err = rotated{}, nil
		args = append(args, int32(i), r.Now, r.Next.Hash, r.NextJTI, r.Next.IssuedAt, r.Next.ExpiresAt, r.Next.SessionID,
			r.OldHash, r.Check.UserID, r.Check.Version, r.Check.IdleTimeout.Microseconds())
	}
	// n <= maxBatch: the batcher never makes a bigger batch.
	rows, err := w.conns.Query(ctx, w.statements[n], args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int32
		s, u, err := scanSigned(rows, &i)
		if err != nil {
			return err
		}
		if i < 0 || int(i) >= n {
			return fmt.Errorf("rotate: batch index %d out of range", i)
		}
		batch[i].Out = rotated{s, u}
	}
	return rows.Err()
}

// signedColumns is what a checked rotation returns: what the new tokens
// are signed from, and no more (the password hash and the session's
// client details stay in the database; decoding them was a twentieth of
// a refresh's CPU).
const signedColumns = `s.id, s.user_id, s.expires_at, u.username, u.email, u.role, u.token_version`

// scanSigned scans a batch statement's row: the rotation's index in the
// batch into idx, then signedColumns, the session and its (active) user as
// latch.Rotation.Check promises them.
func scanSigned(rows pgx.Rows, idx *int32) (*latch.Session, *latch.User, error) {
	var s latch.Session
	u := latch.User{IsActive: true} // the statement checked it
	if err := rows.Scan(idx, &s.ID, &s.UserID, &s.ExpiresAt, &u.Username, &u.Email, &u.Role, &u.TokenVersion); err != nil {
		return nil, nil, err
	}
	u.ID = s.UserID
	s.ExpiresAt = s.ExpiresAt.UTC()
	return &s, &u, nil
}
