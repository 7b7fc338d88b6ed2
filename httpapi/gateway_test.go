package httpapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestStripIdentityHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want []string // the keys left
	}{
		{"canonical", http.Header{"X-Latch-User-Id": {"999"}, "Accept": {"*/*"}}, []string{"Accept"}},
		{"any case", http.Header{"x-latch-role": {"admin"}, "X-LATCH-EMAIL": {"a@b"}}, nil},
		{"underscores", http.Header{"X_Latch_User_Id": {"1"}, "X-Latch_Session-Id": {"s"}}, nil},
		{"unknown X-Latch header", http.Header{"X-Latch-Anything": {"1"}}, nil},
		{"prefix alone", http.Header{"X-Latch-": {"1"}}, nil},
		{"look-alikes kept", http.Header{"X-Latchkey": {"1"}, "X-Latc": {"1"}, "Latch-User-Id": {"1"}},
			[]string{"Latch-User-Id", "X-Latc", "X-Latchkey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stripIdentityHeaders(tt.in)
			if got := slices.Sorted(maps.Keys(tt.in)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		raw string
		ok  bool
	}{
		{"http://127.0.0.1:8001", true},
		{"https://api.internal", true},
		{"http://[::1]:8001/base", true},
		{"127.0.0.1:8001", false},
		{"ftp://host", false},
		{"http://", false},
		{"", false},
	}
	for _, tt := range tests {
		_, err := ParseUpstream(tt.raw)
		if got := err == nil; got != tt.ok {
			t.Errorf("ParseUpstream(%q) ok got %v, want %v (%v)", tt.raw, got, tt.ok, err)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestUpstreamError(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		err    error
		status int
		body   string
	}{
		{"refused", context.Background(), errors.New("dial tcp 10.0.0.7:8001: connection refused"), 502, `{"detail":"Bad gateway."}`},
		{"timeout", context.Background(), fmt.Errorf("wrapped: %w", timeoutError{}), 504, `{"detail":"Gateway timeout."}`},
		{"client gone", canceled, context.Canceled, statusClientClosedRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil).WithContext(tt.ctx)
			ae := upstreamError(r, tt.err)
			if ae.status != tt.status {
				t.Errorf("status got %d, want %d", ae.status, tt.status)
			}
			if b, _ := marshal(ae.body); tt.body != "" && string(b) != tt.body {
				t.Errorf("body got %s, want %s", b, tt.body)
			}
		})
	}
}
