package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name            string
		err             error
		wantUnavailable bool
	}{
		{"nil", nil, false},
		{"no rows", pgx.ErrNoRows, false},
		{"unique violation", pgErr(codeUniqueViolation), false},
		{"serialization failure", pgErr(codeSerializationFailure), false},
		{"query cancelled", pgErr("57014"), false},
		{"caller cancelled", fmt.Errorf("query: %w", context.Canceled), false},
		{"admin shutdown", pgErr("57P01"), true},
		{"cannot connect now", pgErr("57P03"), true},
		{"too many connections", pgErr("53300"), true},
		{"connection failure", pgErr("08006"), true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"deadline", context.DeadlineExceeded, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if is := errors.Is(got, latch.ErrUnavailable); is != tt.wantUnavailable {
				t.Errorf("classify(%v) = %v: unavailable %v, want %v", tt.err, got, is, tt.wantUnavailable)
			}
			if tt.err != nil && !errors.Is(got, tt.err) {
				t.Errorf("classify(%v) = %v, which no longer wraps it", tt.err, got)
			}
			var ue *latch.UnavailableError
			if tt.wantUnavailable && (!errors.As(got, &ue) || ue.Store != "postgres") {
				t.Errorf("classify(%v) = %v, want a *latch.UnavailableError of postgres", tt.err, got)
			}
		})
	}
}
