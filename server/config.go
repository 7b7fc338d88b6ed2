package server

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch-auth/latch/httpapi"
)

// Config is what New assembles latch from. Every zero value is the
// documented default, which is SimpleJWT's behaviour with latch's
// additions (sessions, immediate revocation): Config{} runs on SQLite in
// ./latch-data with in-process state and a generated signing key.
type Config struct {
	// DataDir holds the SQLite file and generated keys; default ./latch-data.
	DataDir string
	// DatabaseURL is postgres://… or sqlite:///path; default SQLite in DataDir.
	DatabaseURL string
	// RedisURL shares revocations, caches and rate limits between instances
	// (several comma-separated addresses: Redis Cluster); default in-process.
	RedisURL string

	// SigningKey is an HS secret or a PEM private key; default a key
	// generated on first start and kept in DataDir.
	SigningKey string
	// VerifyingKeys are extra keys accepted during a rotation (PEM public
	// keys, or HS secrets one per line).
	VerifyingKeys string
	// Algorithm is HS256 (default), HS384, HS512, ES256, EdDSA or RS256.
	Algorithm        string
	Audience, Issuer string        // aud and iss, written and required when set
	Leeway           time.Duration // clock skew allowed
	UserIDClaim      string        // default user_id
	// CustomClaims are user fields copied into tokens (username, role,
	// email); nil: username and role; empty but not nil: none.
	CustomClaims    []string
	AuthHeaderTypes []string // accepted Authorization schemes; default Bearer
	SimpleJWT55     bool     // SimpleJWT 5.5's wording and string user_id

	AccessTokenLifetime         time.Duration // default 15m
	RefreshTokenLifetime        time.Duration // default 14 days
	SlidingTokenLifetime        time.Duration // default 5m
	SlidingTokenRefreshLifetime time.Duration // default 1 day
	SessionMaxLifetime          time.Duration // absolute; default 30 days
	SessionIdleTimeout          time.Duration // default none
	DisableRotation             bool          // refresh hands out no new refresh token
	// KeepRotatedTokens leaves a rotated refresh token valid
	// (SimpleJWT's BLACKLIST_AFTER_ROTATION=False).
	KeepRotatedTokens bool
	// RefreshReuseInterval is the grace for concurrent refreshes of one
	// token; default 10s, negative: none.
	RefreshReuseInterval time.Duration
	// RefreshOnly checks only refresh tokens against revocations, as
	// SimpleJWT does; by default access tokens die with their session.
	RefreshOnly   bool
	SkipLastLogin bool // do not record last_login at login

	// LoginFailures is how many failed logins of one account (from any IP)
	// pass before back-off; default 10, negative: no limit.
	LoginFailures int
	// ThrottleAnon and ThrottleUser are rates (N/second|minute|hour|day)
	// per client IP and per user, or "off"; default 20/min and 1000/hour.
	ThrottleAnon, ThrottleUser string
	TrustedProxies             []netip.Prefix // whose X-Forwarded-For is believed
	// IntrospectionClients are the HTTP Basic id → secret pairs allowed to
	// call /api/token/introspect/; none: it answers 401 to everyone.
	IntrospectionClients map[string]string
	// CORSOrigins are the origins (https://app.example.com) whose pages may
	// call latch from a browser with credentials (httpapi.Options); none:
	// same origin only.
	CORSOrigins []string

	CookieMode      bool          // token endpoints use the refresh cookie
	InsecureCookies bool          // cookies without Secure, for local http
	CookieSameSite  http.SameSite // default Lax
	SlidingTokens   bool          // serve the sliding-token endpoints
	OpaqueTokens    bool          // hand out random handles instead of JWTs

	MaxBodyBytes      int64 // default 64 KiB
	PasswordMinLength int   // default 8
	// LoginField is what a login names: "username" (default), "email"
	// (the request field is email) or "username_email" (either, in
	// username); see auth.LoginField.
	LoginField string
	// AdminRole is the role allowed to use the admin API; default "admin".
	AdminRole string
	// HashWorkers is how many passwords are hashed at once. Default:
	// adaptive, one per core while authenticated requests are fewer than
	// 100 a second (Run measures them), one per core but one otherwise.
	HashWorkers                    int
	Argon2Memory, Argon2Iterations int // KiB and passes; default OWASP's 19 MiB, 2
	// KeepKeys leaves the data dir's key file as it is: with no SigningKey
	// and no key file, tokens are signed with a key of this process's own
	// (for commands that sign none, such as latch revoke).
	KeepKeys bool
	// HashProcess, when set, are the arguments with which the running
	// executable hashes passwords in a child process (see
	// password.ServeProcess); latch serve uses "hash-worker". Default: in
	// this process.
	HashProcess []string

	// SMTPURL is smtp://user:pass@host:port (STARTTLS when offered) or
	// smtps://… (TLS); empty: each message is written as an .eml file
	// under DataDir/outbox/ and its path logged.
	SMTPURL string
	// SMTPTLS configures TLS to the SMTP server (trusted roots); nil: the
	// system's.
	SMTPTLS *tls.Config
	// MailFrom is the From address of account mail; default
	// latch@localhost.
	MailFrom string
	// MailTemplates is a directory whose files replace the embedded mail
	// templates of the same name; empty: the embedded ones.
	MailTemplates string
	// MailRetryBase is the first back-off after a failed delivery (doubled
	// after each further one, up to 5m); default 2s.
	MailRetryBase time.Duration
	// PublicURL is the scheme and host links in mail point at
	// (https://auth.example.com); empty: the request's own.
	PublicURL string
	// PasswordResetURL is the reset link with {uid} and {token}; a path is
	// resolved against PublicURL. Default latch's page /reset/{uid}/{token}/.
	PasswordResetURL string
	// PasswordResetTimeout is how long a reset link works; default 1h.
	PasswordResetTimeout time.Duration
	// EmailVerifyURL is the verification link with {key}; default latch's
	// page /verify-email/{key}/.
	EmailVerifyURL string
	// EmailVerification is none (default), optional or mandatory.
	EmailVerification string

	// Routes returns the application's own authenticated routes, served
	// with latch's conventions (httpapi.Route); nil: none.
	Routes func(s *Server) []httpapi.Route
	// Omit leaves out route groups (ops, docs, demo) of Handler.
	Omit httpapi.Group
	// Upstream (http://host:port) turns on gateway mode: requests no
	// route of latch serves are proxied there with the caller's X-Latch-*
	// headers, only with a valid access token; UpstreamPublic are path
	// prefixes proxied without one. Default: no gateway (404).
	Upstream       string
	UpstreamPublic []string

	Logger   *slog.Logger         // default: discard
	Registry *prometheus.Registry // metrics, served at /metrics; default a new one
	Now      func() time.Time     // default time.Now
}

// withDefaults returns c with every zero value replaced by its default.
func (c Config) withDefaults() Config {
	or := func(s *string, def string) {
		if *s == "" {
			*s = def
		}
	}
	ord := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	or(&c.DataDir, "./latch-data")
	or(&c.Algorithm, "HS256")
	or(&c.UserIDClaim, "user_id")
	or(&c.ThrottleAnon, "20/min")
	or(&c.ThrottleUser, "1000/hour")
	or(&c.MailFrom, "latch@localhost")
	if c.CustomClaims == nil {
		c.CustomClaims = []string{"username", "role"}
	}
	if len(c.AuthHeaderTypes) == 0 {
		c.AuthHeaderTypes = []string{"Bearer"}
	}
	ord(&c.AccessTokenLifetime, 15*time.Minute)
	ord(&c.RefreshTokenLifetime, 14*24*time.Hour)
	ord(&c.SlidingTokenLifetime, 5*time.Minute)
	ord(&c.SlidingTokenRefreshLifetime, 24*time.Hour)
	ord(&c.SessionMaxLifetime, 30*24*time.Hour)
	ord(&c.RefreshReuseInterval, 10*time.Second)
	if c.RefreshReuseInterval < 0 {
		c.RefreshReuseInterval = 0
	}
	if c.LoginFailures == 0 {
		c.LoginFailures = 10
	}
	if c.LoginFailures < 0 {
		c.LoginFailures = 0
	}
	if c.CookieSameSite == 0 || c.CookieSameSite == http.SameSiteDefaultMode {
		c.CookieSameSite = http.SameSiteLaxMode
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.PasswordMinLength <= 0 {
		c.PasswordMinLength = 8
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// SQLitePath returns the SQLite file to use, or "" when DatabaseURL names
// PostgreSQL.
func (c *Config) SQLitePath() (string, error) {
	switch {
	case c.DatabaseURL == "":
		return filepath.Join(c.DataDir, "latch.db"), nil
	case strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		p := strings.TrimPrefix(c.DatabaseURL, "sqlite://")
		if p == "" {
			return "", errors.New("database URL: sqlite:// needs a path, as sqlite:///var/lib/latch/latch.db")
		}
		return p, nil
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		return "", nil
	}
	return "", errors.New("database URL: want postgres://… or sqlite:///path")
}

// keySetPath is where generated keys are kept.
func (c *Config) keySetPath() string { return filepath.Join(c.DataDir, "keys.json") }
