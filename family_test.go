package latch_test

import (
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

func TestFamilyToken(t *testing.T) {
	t0 := time.Date(2031, 5, 6, 7, 0, 0, 0, time.UTC)
	current := latch.RefreshToken{Hash: "c", SessionID: "s", IssuedAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(24 * time.Hour)}
	replaced := latch.RefreshToken{Hash: "r", SessionID: "s", IssuedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour), SpentAt: t0.Add(2 * time.Hour)}
	rotated := latch.Family{SessionID: "s", Current: current, CurrentJTI: "jti-c", Replaced: replaced}
	fresh := latch.Family{SessionID: "s", Current: current}
	successor := &latch.Successor{JTI: "jti-c", IssuedAt: current.IssuedAt, ExpiresAt: current.ExpiresAt}
	tests := []struct {
		name   string
		family latch.Family
		hash   string
		want   latch.RefreshToken
	}{
		{"current", rotated, "c", current},
		{"replaced: spent, the current one its successor", rotated, "r", latch.RefreshToken{
			Hash: "r", SessionID: "s", IssuedAt: replaced.IssuedAt, ExpiresAt: replaced.ExpiresAt, SpentAt: replaced.SpentAt, Successor: successor}},
		{"older: spent when the replaced one was, no successor", rotated, "o", latch.RefreshToken{Hash: "o", SessionID: "s", SpentAt: replaced.SpentAt}},
		{"never rotated: any other token spent when the current was issued", fresh, "o", latch.RefreshToken{Hash: "o", SessionID: "s", SpentAt: current.IssuedAt}},
		{"never rotated: the empty replaced hash names no token", fresh, "", latch.RefreshToken{Hash: "", SessionID: "s", SpentAt: current.IssuedAt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.family.Token(tt.hash)
			if got.Hash != tt.want.Hash || got.SessionID != tt.want.SessionID || !got.IssuedAt.Equal(tt.want.IssuedAt) ||
				!got.ExpiresAt.Equal(tt.want.ExpiresAt) || !got.SpentAt.Equal(tt.want.SpentAt) {
				t.Errorf("Token(%q) = %+v, want %+v", tt.hash, got, tt.want)
			}
			switch {
			case (got.Successor == nil) != (tt.want.Successor == nil):
				t.Errorf("Token(%q).Successor = %+v, want %+v", tt.hash, got.Successor, tt.want.Successor)
			case got.Successor != nil && *got.Successor != *tt.want.Successor:
				t.Errorf("Token(%q).Successor = %+v, want %+v", tt.hash, *got.Successor, *tt.want.Successor)
			}
		})
	}
}
