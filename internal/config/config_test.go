package config

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"15m", 15 * time.Minute, false},
		{"14d", 14 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"0.5d", 12 * time.Hour, false},
		{"off", 0, false},
		{"0", 0, false},
		{"10s", 10 * time.Second, false},
		{"soon", 0, true},
		{"d", 0, true},
		{"-5m", 0, true},
		{"1d-1h", 0, true},
		{"1d+1h", 0, true},
		{"-1d", 0, true},
		{"+1d", 0, true},
		{"Infd", 0, true},
		{"NaNd", 0, true},
		{"99999999d", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func build(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	get := Register(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return get()
}

func TestDefaults(t *testing.T) {
	c, err := build(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "localhost:8000" || c.AccessTokenLifetime != 15*time.Minute || c.RefreshTokenLifetime != 14*24*time.Hour ||
		c.SessionMaxLifetime != 30*24*time.Hour || c.SessionIdleTimeout != 0 || !c.RotateRefreshTokens || !c.BlacklistAfterRotation ||
		c.RefreshReuseInterval != 10*time.Second || c.Revocation != "immediate" || c.ThrottleAnon != "20/min" ||
		c.ThrottleUser != "1000/hour" || c.CookieMode || !c.CookieSecure || c.SlidingTokens || c.TokenFormat != "jwt" ||
		c.Algorithm != "HS256" || c.DataDir != "./latch-data" || c.MaxBodyBytes != 64<<10 {
		t.Fatalf("defaults differ from SPEC §2: %+v", c)
	}
	if p, _ := c.SQLitePath(); p != filepath.Join("latch-data", "latch.db") {
		t.Fatalf("default database %q", p)
	}
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "latch.conf")
	if err := os.WriteFile(file, []byte("# comment\nLATCH_ADDR=file:1\nACCESS_TOKEN_LIFETIME = 1m\nLATCH_LEEWAY=3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LATCH_CONFIG": file, "LATCH_ADDR": "env:2", "LATCH_ACCESS_TOKEN_LIFETIME": "2m"}
	c, err := build(t, []string{"--addr", "flag:3"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "flag:3" || c.AccessTokenLifetime != 2*time.Minute || c.Leeway != 3*time.Second {
		t.Fatalf("precedence: addr %q, access %v, leeway %v", c.Addr, c.AccessTokenLifetime, c.Leeway)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"alg none", map[string]string{"LATCH_ALGORITHM": "none"}, "algorithm"},
		{"bad revocation", map[string]string{"LATCH_REVOCATION": "never"}, "revocation"},
		{"bad format", map[string]string{"LATCH_TOKEN_FORMAT": "xml"}, "token-format"},
		{"bad rate", map[string]string{"LATCH_THROTTLE_ANON": "lots"}, "throttle-anon"},
		{"bad bool", map[string]string{"LATCH_COOKIE_MODE": "maybe"}, "not a boolean"},
		{"bad proxy", map[string]string{"LATCH_TRUSTED_PROXIES": "nowhere"}, "CIDR"},
		{"bad claim", map[string]string{"LATCH_CUSTOM_CLAIMS": "password"}, "custom-claims"},
		{"zero lifetime", map[string]string{"LATCH_ACCESS_TOKEN_LIFETIME": "0"}, "lifetimes"},
		{"sub-second lifetime", map[string]string{"LATCH_ACCESS_TOKEN_LIFETIME": "500ms"}, "at least 1s"},
		{"blank signing key", map[string]string{"LATCH_SIGNING_KEY": "  "}, "signing-key: blank"},
		{"bad upstream", map[string]string{"LATCH_UPSTREAM": "localhost:8080"}, "LATCH_UPSTREAM: want http"},
		{"bad upstream prefix", map[string]string{"LATCH_UPSTREAM_PUBLIC": "public/"}, "UPSTREAM_PUBLIC"},
		{"bad database", map[string]string{"LATCH_DATABASE_URL": "mysql://x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := build(t, nil, tt.env)
			if tt.want == "" {
				if err == nil {
					_, err = c.SQLitePath()
				}
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCORSOrigins(t *testing.T) {
	tests := []struct {
		value   string
		want    []string
		wantErr string // "": valid
	}{
		{"", nil, ""},
		{"http://localhost:3000, HTTPS://App.Example.com:443,https://[::1]:8443", []string{"http://localhost:3000", "https://app.example.com", "https://[::1]:8443"}, ""},
		{"http://example.com:80", []string{"http://example.com"}, ""},
		{"https://app.example.com/", nil, "no path"},
		{"https://app.example.com/app", nil, "no path"},
		{"https://app.example.com?x", nil, "no path"},
		{"*", nil, "wildcard"},
		{"app.example.com", nil, "scheme"},
		{"ftp://app.example.com", nil, "scheme"},
		{"https://", nil, "no host"},
		{"https://user@app.example.com", nil, "no path, query or user"},
		{"https://app.example.com:0443", []string{"https://app.example.com"}, ""},
		{"https://*.example.com", nil, "pattern"},
		{"https://bücher.example", nil, "punycode"},
		{"https://xn--bcher-kva.example", []string{"https://xn--bcher-kva.example"}, ""},
		{"https://app.example.com.", nil, "dot"},
		{"https://app.example.com:99999", nil, "port"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			c, err := build(t, nil, map[string]string{"LATCH_CORS_ALLOWED_ORIGINS": tt.value})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.Server().CORSOrigins; !slices.Equal(got, tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "LATCH_CORS_ALLOWED_ORIGINS") {
				t.Fatalf("error %v, want one naming LATCH_CORS_ALLOWED_ORIGINS and %q", err, tt.wantErr)
			}
		})
	}
}

func TestIntrospectionClients(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    map[string]string
		wantErr string // "": valid
	}{
		{"pairs", "api:s3:cret, other:a secret with spaces,", map[string]string{"api": "s3:cret", "other": "a secret with spaces"}, ""},
		{"unset", "", nil, ""},
		{"no colon", "api:s3cret,other", nil, "without ':'"},
		{"empty id", ":s3cret", nil, "empty id"},
		{"empty secret", "api:s3cret,other:", nil, `client "other" has an empty secret`},
		{"duplicate id", "api:s3cret,other:x,api:hunter2", nil, `client "api" appears twice`},
		{"duplicate id, same secret", "api:s3cret,api:s3cret", nil, `client "api" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := build(t, nil, map[string]string{"LATCH_INTROSPECTION_CLIENTS": tt.value})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.Server().IntrospectionClients; !maps.Equal(got, tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "LATCH_INTROSPECTION_CLIENTS") {
				t.Fatalf("error %v, want one naming LATCH_INTROSPECTION_CLIENTS and %q", err, tt.wantErr)
			}
			for _, secret := range []string{"s3cret", "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestMailSettings(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantErr string // "" : valid
	}{
		{map[string]string{"LATCH_SMTP_URL": "smtp://u:hunter2@mail.example.com:587", "LATCH_MAIL_FROM": "latch <no-reply@example.com>"}, ""},
		{map[string]string{"LATCH_SMTP_URL": "http://u:hunter2@mail.example.com"}, "LATCH_SMTP_URL"},
		{map[string]string{"LATCH_SMTP_URL": "smtp://u:hunter2@mail example.com:%zz"}, "LATCH_SMTP_URL"},
		{map[string]string{"LATCH_MAIL_FROM": "not an address"}, "LATCH_MAIL_FROM"},
		{map[string]string{"LATCH_PUBLIC_URL": "ftp://x"}, "LATCH_PUBLIC_URL"},
		{map[string]string{"LATCH_PASSWORD_RESET_URL": "https://app.example/reset/{uid}/"}, "LATCH_PASSWORD_RESET_URL"},
		{map[string]string{"LATCH_EMAIL_VERIFY_URL": "https://app.example/verify/"}, "LATCH_EMAIL_VERIFY_URL"},
		{map[string]string{"LATCH_EMAIL_VERIFICATION": "always"}, "LATCH_EMAIL_VERIFICATION"},
		{map[string]string{"LATCH_EMAIL_VERIFICATION": "mandatory", "LATCH_PASSWORD_RESET_URL": "https://app.example/r?u={uid}&t={token}"}, ""},
	}
	for _, tt := range tests {
		_, err := build(t, nil, tt.env)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tt.env, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%v: error %v, want one naming %s", tt.env, err, tt.wantErr)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("the error shows the SMTP password: %v", err)
		}
	}
}
