package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func pgErr(code string) error { return &pgconn.PgError{Code: code, Message: "test error " + code} }

func TestRetry(t *testing.T) {
	t.Parallel()
	plain := errors.New("plain")
	tests := []struct {
		name      string
		errs      []error // returned by the successive calls; nil after the last
		cancelled bool
		wantCalls int
		wantErr   error // compared with errors.Is; nil: success
	}{
		{name: "success", wantCalls: 1},
		{name: "serialization failure", errs: []error{pgErr(codeSerializationFailure)}, wantCalls: 2},
		{name: "deadlocks", errs: []error{pgErr(codeDeadlockDetected), pgErr(codeDeadlockDetected)}, wantCalls: 3},
		{name: "wrapped", errs: []error{fmt.Errorf("commit: %w", pgErr(codeSerializationFailure))}, wantCalls: 2},
		{name: "unique violation is final", errs: []error{pgErr(codeUniqueViolation)}, wantCalls: 1, wantErr: pgErr(codeUniqueViolation)},
		{name: "other errors are final", errs: []error{plain}, wantCalls: 1, wantErr: plain},
		{name: "gives up", errs: repeat(pgErr(codeSerializationFailure), maxAttempts+3), wantCalls: maxAttempts, wantErr: pgErr(codeSerializationFailure)},
		{name: "context cancelled", errs: repeat(pgErr(codeDeadlockDetected), 3), cancelled: true, wantCalls: 1, wantErr: pgErr(codeDeadlockDetected)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			calls := 0
			err := retry(ctx, func() error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			switch code := pgCode(tt.wantErr); {
			case tt.wantErr == nil:
				if err != nil {
					t.Errorf("retry = %v, want nil", err)
				}
			case code != "":
				if pgCode(err) != code {
					t.Errorf("retry = %v, want SQLSTATE %s", err, code)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("retry = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// A real deadlock between two transactions: PostgreSQL aborts one of them
// (40P01), inTx runs it again, and both commit.
func TestInTxRetriesDeadlock(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	if _, err := db.pool.Exec(t.Context(), `CREATE TABLE deadlock (id int PRIMARY KEY); INSERT INTO deadlock VALUES (1), (2)`); err != nil {
		t.Fatal(err)
	}

	var attempts atomic.Int32
	var locked sync.WaitGroup // both hold their first row
	locked.Add(2)
	lockBoth := func(first, second int) error {
		firstAttempt := true
		return db.inTx(t.Context(), func(tx pgx.Tx) error {
			attempts.Add(1)
			if _, err := tx.Exec(t.Context(), `SELECT id FROM deadlock WHERE id = $1 FOR UPDATE`, first); err != nil {
				return err
			}
			if firstAttempt {
				firstAttempt = false
				locked.Done()
				locked.Wait()
			}
			_, err := tx.Exec(t.Context(), `SELECT id FROM deadlock WHERE id = $1 FOR UPDATE`, second)
			return err
		})
	}
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { errA = lockBoth(1, 2) })
	wg.Go(func() { errB = lockBoth(2, 1) })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("inTx errors: %v, %v; want both nil", errA, errB)
	}
	// A retry may deadlock again with the other's first attempt.
	if got := attempts.Load(); got < 3 {
		t.Errorf("attempts = %d, want 3 or more (at least one deadlock and one retry)", got)
	}
}
