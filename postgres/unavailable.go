package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latch-auth/latch"
)

// conns is the pool as the stores use it: an error that means the server
// could not be reached comes out as a *latch.UnavailableError, so every
// store method reports an outage the same way without wrapping each call
// site. Transactions go through DB.inTx, which does the same.
type conns struct{ *pgxpool.Pool }

func (c conns) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := c.Pool.Exec(ctx, sql, args...)
	return tag, classify(err)
}

func (c conns) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := c.Pool.Query(ctx, sql, args...)
	if rows != nil {
		rows = classifiedRows{rows} // pgx reports a failed query through rows.Err too
	}
	return rows, classify(err)
}

func (c conns) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return classifiedRow{c.Pool.QueryRow(ctx, sql, args...)}
}

func (c conns) Ping(ctx context.Context) error { return classify(c.Pool.Ping(ctx)) }

type classifiedRows struct{ pgx.Rows }

func (r classifiedRows) Err() error { return classify(r.Rows.Err()) }

func (r classifiedRows) Scan(dest ...any) error { return classify(r.Rows.Scan(dest...)) }

type classifiedRow struct{ row pgx.Row }

func (r classifiedRow) Scan(dest ...any) error { return classify(r.row.Scan(dest...)) }

// Classify is how the stores report an outage, for an application that
// queries the same database (DB.Pool): err comes back as a
// *latch.UnavailableError (503 in latch's HTTP API) when it means the
// server could not be reached, and unchanged otherwise.
func Classify(err error) error { return classify(err) }

// classify wraps err in a *latch.UnavailableError when it means the
// server could not be reached or is going away, and returns any other
// error (a constraint, no rows, a cancelled request) as it is.
func classify(err error) error {
	if err == nil || !unreachable(err) || errors.Is(err, latch.ErrUnavailable) {
		return err
	}
	return &latch.UnavailableError{Store: "postgres", Err: err}
}

func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up: not the server's fault
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 08: connection exception; 53: insufficient resources (too many
		// connections, out of memory or disk); 57P: shutting down,
		// starting up, crashed. (57014, a cancelled query, is not one.)
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P")
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}
