package ratelog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

func TestHandler(t *testing.T) {
	pg := fmt.Errorf("user 1: %w", &latch.UnavailableError{Store: "postgres", Err: errors.New("connection refused")})
	rd := &latch.UnavailableError{Store: "redis", Err: errors.New("circuit open")}
	type entry struct {
		at   time.Duration // since the start
		msg  string
		args []any
	}
	tests := []struct {
		name    string
		entries []entry
		want    []string // the lines that pass, as msg and attrs
	}{
		{
			name:    "other records pass",
			entries: []entry{{0, "a", nil}, {0, "a", []any{"err", errors.New("x")}}, {0, "a", nil}},
			want:    []string{"msg=a", "msg=a err=x", "msg=a"},
		},
		{
			name:    "repeats within a second are dropped, then counted",
			entries: []entry{{0, "request failed", []any{"err", pg}}, {100 * time.Millisecond, "request failed", []any{"err", pg}}, {900 * time.Millisecond, "request failed", []any{"err", pg}}, {1100 * time.Millisecond, "request failed", []any{"err", pg}}},
			want:    []string{`msg="request failed" err="user 1: postgres unavailable: connection refused"`, `msg="request failed" err="user 1: postgres unavailable: connection refused" repeated=2`},
		},
		{
			name:    "kinds are counted apart",
			entries: []entry{{0, "request failed", []any{"err", pg}}, {0, "request failed", []any{"err", rd}}, {0, "cache", []any{"err", rd}}, {0, "cache", []any{"err", rd}}},
			want:    []string{`msg="request failed" err="user 1: postgres unavailable: connection refused"`, `msg="request failed" err="redis unavailable: circuit open"`, `msg=cache err="redis unavailable: circuit open"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			t0 := time.Unix(1_000_000, 0)
			now := t0
			text := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
					return slog.Attr{}
				}
				return a
			}})
			log := slog.New(New(text, time.Second, func() time.Time { return now }))
			for _, e := range tt.entries {
				now = t0.Add(e.at)
				log.Error(e.msg, e.args...)
			}
			got := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
