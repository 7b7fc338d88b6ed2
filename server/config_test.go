package server

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The zero Config is the documented defaults; negative spells "off" where zero is
// taken by the default.
func TestConfigDefaults(t *testing.T) {
	d := Config{}.withDefaults()
	tests := []struct {
		name      string
		got, want any
	}{
		{"DataDir", d.DataDir, "./latch-data"},
		{"Algorithm", d.Algorithm, "HS256"},
		{"UserIDClaim", d.UserIDClaim, "user_id"},
		{"CustomClaims", slices.Clone(d.CustomClaims), []string{"username", "role"}},
		{"AccessTokenLifetime", d.AccessTokenLifetime, 15 * time.Minute},
		{"RefreshTokenLifetime", d.RefreshTokenLifetime, 14 * 24 * time.Hour},
		{"SessionMaxLifetime", d.SessionMaxLifetime, 30 * 24 * time.Hour},
		{"RefreshReuseInterval", d.RefreshReuseInterval, 10 * time.Second},
		{"LoginFailures", d.LoginFailures, 10},
		{"ThrottleAnon", d.ThrottleAnon, "20/min"},
		{"ThrottleUser", d.ThrottleUser, "1000/hour"},
		{"CookieSameSite", d.CookieSameSite, http.SameSiteLaxMode},
		{"MaxBodyBytes", d.MaxBodyBytes, int64(64 << 10)},
		{"PasswordMinLength", d.PasswordMinLength, 8},
		{"no reuse interval", Config{RefreshReuseInterval: -1}.withDefaults().RefreshReuseInterval, time.Duration(0)},
		{"no login-failure limit", Config{LoginFailures: -1}.withDefaults().LoginFailures, 0},
		{"no custom claims", len(Config{CustomClaims: []string{}}.withDefaults().CustomClaims), 0},
	}
	for _, tt := range tests {
		if s, ok := tt.got.([]string); ok {
			if !slices.Equal(s, tt.want.([]string)) {
				t.Errorf("%s = %v, want %v", tt.name, s, tt.want)
			}
			continue
		}
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if d.Logger == nil || d.Registry == nil || d.Now == nil {
		t.Error("Logger, Registry and Now must default")
	}
}

// KeepKeys writes no key file into the data dir.
func TestKeepKeys(t *testing.T) {
	for _, keep := range []bool{false, true} {
		dir := t.TempDir()
		s, err := New(t.Context(), Config{DataDir: dir, KeepKeys: keep})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = os.Stat(filepath.Join(dir, "keys.json"))
		if exists := err == nil; exists == keep {
			t.Errorf("KeepKeys %v: key file exists %v", keep, exists)
		}
	}
}
