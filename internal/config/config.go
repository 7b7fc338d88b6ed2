// Package config reads latch's configuration from flags, LATCH_*
// environment variables and an optional file, in that order of precedence,
// and validates it. Only cmd/latch uses it: packages take their own
// options structs.
package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/mail"
	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/server"
)

// Config is the whole server configuration.
type Config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	RedisURL    string

	SigningKey      string // HS secret or PEM private key; empty: generated in DataDir
	VerifyingKeys   string // extra PEM public keys or HS secrets, for rotation
	Algorithm       string
	Audience        string
	Issuer          string
	Leeway          time.Duration
	UserIDClaim     string
	UserIDAsString  bool
	CustomClaims    []string
	AuthHeaderTypes []string
	WireFormat      string // "5.2" (default) or "5.5"

	given map[string]bool // settings not left at their default (Given)

	AccessTokenLifetime         time.Duration
	RefreshTokenLifetime        time.Duration
	SlidingTokenLifetime        time.Duration
	SlidingTokenRefreshLifetime time.Duration
	SessionMaxLifetime          time.Duration
	SessionIdleTimeout          time.Duration
	RotateRefreshTokens         bool
	BlacklistAfterRotation      bool
	RefreshReuseInterval        time.Duration
	Revocation                  string // "immediate" or "refresh-only"
	UpdateLastLogin             bool

	LoginFailures  int // free failed logins per account before back-off; 0: guard off
	ThrottleAnon   string
	ThrottleUser   string
	TrustedProxies []netip.Prefix
	Upstream       string   // gateway mode's upstream URL; empty: off
	UpstreamPublic []string // path prefixes proxied without a token
	CORSOrigins    []string // origins allowed to call latch from a browser
	// IntrospectionClients are the id → secret pairs of
	// LATCH_INTROSPECTION_CLIENTS.
	IntrospectionClients map[string]string

	CookieMode     bool
	CookieSecure   bool
	CookieSameSite string
	SlidingTokens  bool
	TokenFormat    string // "jwt" or "opaque"

	MaxBodyBytes      int64
	PasswordMinLength int
	LoginField        string // username, email or username_email
	AdminRole         string

	SMTPURL              string // empty: .eml files in DataDir/outbox/
	MailFrom             string
	MailTemplates        string
	PublicURL            string
	PasswordResetURL     string
	PasswordResetTimeout time.Duration
	EmailVerifyURL       string
	EmailVerification    string

	HashWorkers      int
	HashProcess      bool
	GCHeapFloor      int // MiB; 0: Go's own GOGC
	Argon2Memory     int
	Argon2Iterations int
	LogLevel         string
	LogFormat        string
}

// setting is one configuration entry: a flag name, its LATCH_* variable,
// default and help, bound to a Config field through set.
type setting struct {
	name, def, help string
	set             func(c *Config, v string) error
}

// Env returns the environment variable of a flag name: access-token-lifetime
// -> LATCH_ACCESS_TOKEN_LIFETIME.
func Env(name string) string {
	return "LATCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func dur(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err != nil {
			return err
		}
		*p(c) = d
		return nil
	}
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := ParseBool(v)
		if err != nil {
			return err
		}
		*p(c) = b
		return nil
	}
}

func integer(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*p(c) = n
		return nil
	}
}

func list(p func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*p(c) = splitList(v)
		return nil
	}
}

func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

var settings = []setting{
	{"addr", "localhost:8000", "listen address", str(func(c *Config) *string { return &c.Addr })},
	{"data-dir", "./latch-data", "directory of the SQLite file and generated keys", str(func(c *Config) *string { return &c.DataDir })},
	{"database-url", "", "postgres://… or sqlite:///path (default: SQLite in the data dir)", str(func(c *Config) *string { return &c.DatabaseURL })},
	{"redis-url", "", "redis://… (several comma-separated addresses: Redis Cluster); unset: in-process state", str(func(c *Config) *string { return &c.RedisURL })},
	{"signing-key", "", "HS secret or PEM private key (default: generated and kept in the data dir)", str(func(c *Config) *string { return &c.SigningKey })},
	{"verifying-keys", "", "extra verification keys accepted during key rotation: PEM public keys, then HS secrets one per line", str(func(c *Config) *string { return &c.VerifyingKeys })},
	{"algorithm", "HS256", "signing algorithm: HS256, HS384, HS512, ES256, EdDSA, RS256", str(func(c *Config) *string { return &c.Algorithm })},
	{"audience", "", "aud claim written and required (SimpleJWT AUDIENCE)", str(func(c *Config) *string { return &c.Audience })},
	{"issuer", "", "iss claim written and required (SimpleJWT ISSUER)", str(func(c *Config) *string { return &c.Issuer })},
	{"leeway", "0s", "clock skew allowed when checking exp/nbf/iat", dur(func(c *Config) *time.Duration { return &c.Leeway })},
	{"user-id-claim", "user_id", "claim holding the user id (SimpleJWT USER_ID_CLAIM)", str(func(c *Config) *string { return &c.UserIDClaim })},
	{"custom-claims", "username,role", "user fields copied into tokens: username, role, email", list(func(c *Config) *[]string { return &c.CustomClaims })},
	{"auth-header-types", "Bearer", "accepted Authorization schemes (SimpleJWT AUTH_HEADER_TYPES)", list(func(c *Config) *[]string { return &c.AuthHeaderTypes })},
	{"wire-format", "5.2", "SimpleJWT wording to match: 5.2, or 5.5 (\"Token is expired\"/\"Token is invalid\", string user_id)", str(func(c *Config) *string { return &c.WireFormat })},
	{"access-token-lifetime", "15m", "access token lifetime (Go duration; d suffix for days)", dur(func(c *Config) *time.Duration { return &c.AccessTokenLifetime })},
	{"refresh-token-lifetime", "14d", "refresh token lifetime", dur(func(c *Config) *time.Duration { return &c.RefreshTokenLifetime })},
	{"sliding-token-lifetime", "5m", "sliding token lifetime (SimpleJWT SLIDING_TOKEN_LIFETIME)", dur(func(c *Config) *time.Duration { return &c.SlidingTokenLifetime })},
	{"sliding-token-refresh-lifetime", "1d", "sliding token refresh_exp (SimpleJWT SLIDING_TOKEN_REFRESH_LIFETIME)", dur(func(c *Config) *time.Duration { return &c.SlidingTokenRefreshLifetime })},
	{"session-max-lifetime", "30d", "absolute session lifetime; rotation never extends it", dur(func(c *Config) *time.Duration { return &c.SessionMaxLifetime })},
	{"session-idle-timeout", "off", "a session not refreshed for this long is revoked at its next refresh (off: never)", dur(func(c *Config) *time.Duration { return &c.SessionIdleTimeout })},
	{"rotate-refresh-tokens", "true", "refresh returns a new refresh token", boolean(func(c *Config) *bool { return &c.RotateRefreshTokens })},
	{"blacklist-after-rotation", "true", "a rotated refresh token is spent; presenting it again revokes the session", boolean(func(c *Config) *bool { return &c.BlacklistAfterRotation })},
	{"refresh-reuse-interval", "10s", "grace for concurrent refreshes of one token (0 disables)", dur(func(c *Config) *time.Duration { return &c.RefreshReuseInterval })},
	{"revocation", "immediate", "immediate (access tokens die with their session) or refresh-only (SimpleJWT semantics)", str(func(c *Config) *string { return &c.Revocation })},
	{"update-last-login", "true", "record last_login on login (SimpleJWT UPDATE_LAST_LOGIN)", boolean(func(c *Config) *bool { return &c.UpdateLastLogin })},
	{"throttle-anon", "20/min", "anonymous rate per client IP: N/second|minute|hour|day, or off", str(func(c *Config) *string { return &c.ThrottleAnon })},
	{"throttle-user", "1000/hour", "authenticated rate per user, or off", str(func(c *Config) *string { return &c.ThrottleUser })},
	{"login-failures", "10", "failed logins per account (from any IP) before exponential back-off (1s doubling, at most 1m); off disables", func(c *Config, v string) error {
		if strings.EqualFold(strings.TrimSpace(v), "off") {
			c.LoginFailures = 0
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return fmt.Errorf("want a positive number or off: %q", v)
		}
		c.LoginFailures = n
		return nil
	}},
	{"trusted-proxies", "", "CIDRs whose X-Forwarded-For is believed", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, f := range splitList(v) {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				a, aerr := netip.ParseAddr(f)
				if aerr != nil {
					return fmt.Errorf("not a CIDR: %q", f)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
		}
		return nil
	}},
	{"upstream", "", "gateway mode: proxy every request latch does not serve itself to this http://host:port, only with a valid access token, adding X-Latch-* identity headers", func(c *Config, v string) error {
		c.Upstream = strings.TrimSpace(v)
		if c.Upstream == "" {
			return nil
		}
		_, err := httpapi.ParseUpstream(c.Upstream)
		return err
	}},
	{"upstream-public", "", "gateway mode: comma-separated path prefixes proxied without a token (X-Latch-* headers are still stripped)", func(c *Config, v string) error {
		c.UpstreamPublic = nil
		for _, f := range splitList(v) {
			if !strings.HasPrefix(f, "/") {
				return fmt.Errorf("not a path prefix: %q", f)
			}
			c.UpstreamPublic = append(c.UpstreamPublic, f)
		}
		return nil
	}},
	{"cors-allowed-origins", "", "comma-separated origins (https://app.example.com) whose pages may call latch from a browser, with credentials; the cookie endpoints' CSRF check trusts them too; unset: same origin only", func(c *Config, v string) error {
		c.CORSOrigins = nil
		for _, f := range splitList(v) {
			o, err := httpapi.NormalizeOrigin(f)
			if err != nil {
				return err
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
		return nil
	}},
	{"introspection-clients", "", "id:secret pairs (comma-separated) allowed to call /api/token/introspect/ with HTTP Basic; unset: it answers 401", func(c *Config, v string) error {
		c.IntrospectionClients = nil
		for _, f := range strings.Split(v, ",") { // a secret may hold spaces
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			// Errors name the id at most: never echo a secret.
			id, secret, ok := strings.Cut(f, ":")
			switch {
			case !ok:
				return errors.New("want id:secret pairs, found one without ':'")
			case id == "":
				return errors.New("want id:secret pairs, found an empty id")
			case secret == "":
				return fmt.Errorf("want id:secret pairs, client %q has an empty secret", id)
			}
			if c.IntrospectionClients == nil {
				c.IntrospectionClients = map[string]string{}
			}
			// A repeated id would silently keep one secret and lock out
			// whoever holds the other.
			if _, dup := c.IntrospectionClients[id]; dup {
				return fmt.Errorf("want id:secret pairs, client %q appears twice", id)
			}
			c.IntrospectionClients[id] = secret
		}
		return nil
	}},
	{"cookie-mode", "off", "on: the token endpoints set and read the refresh token only as an HttpOnly cookie", boolean(func(c *Config) *bool { return &c.CookieMode })},
	{"cookie-secure", "true", "mark the refresh cookie Secure (false only for local http)", boolean(func(c *Config) *bool { return &c.CookieSecure })},
	{"cookie-samesite", "Lax", "SameSite of the refresh cookie: Lax or Strict", str(func(c *Config) *string { return &c.CookieSameSite })},
	{"sliding-tokens", "off", "on: serve /api/token/sliding/ and /api/token/sliding/refresh/", boolean(func(c *Config) *bool { return &c.SlidingTokens })},
	{"token-format", "jwt", "jwt, or opaque: random handles resolved through the store", str(func(c *Config) *string { return &c.TokenFormat })},
	{"max-body-bytes", "65536", "request body limit (413 above it)", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("not a positive whole number: %q", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"password-min-length", "8", "minimum password length on signup and change", integer(func(c *Config) *int { return &c.PasswordMinLength })},
	{"login-field", "username", "what a login names: username, email (the request field is email) or username_email (username holds either)", str(func(c *Config) *string { return &c.LoginField })},
	{"admin-role", "admin", "the role that may use the admin API (/api/admin/users/)", str(func(c *Config) *string { return &c.AdminRole })},
	{"smtp-url", "", "SMTP server for account mail: smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS); unset: .eml files in DATA_DIR/outbox/", str(func(c *Config) *string { return &c.SMTPURL })},
	{"mail-from", "latch@localhost", "From address of account mail", str(func(c *Config) *string { return &c.MailFrom })},
	{"mail-templates", "", "directory whose files replace the embedded mail templates of the same name", str(func(c *Config) *string { return &c.MailTemplates })},
	{"public-url", "", "scheme and host that links in mail point at (https://auth.example.com); unset: the request's Host (set it in production)", str(func(c *Config) *string { return &c.PublicURL })},
	{"password-reset-url", "/reset/{uid}/{token}/", "password reset link; a path is resolved against the public URL", str(func(c *Config) *string { return &c.PasswordResetURL })},
	{"password-reset-timeout", "1h", "how long a password reset link works", dur(func(c *Config) *time.Duration { return &c.PasswordResetTimeout })},
	{"email-verify-url", "/verify-email/{key}/", "email verification link; a path is resolved against the public URL", str(func(c *Config) *string { return &c.EmailVerifyURL })},
	{"email-verification", "none", "none, optional (signup mails a verification link) or mandatory (and login waits for it)", str(func(c *Config) *string { return &c.EmailVerification })},
	{"hash-workers", "0", "password hashing workers (0: adaptive, every core while authenticated requests are light, one fewer while they are not)", integer(func(c *Config) *int { return &c.HashWorkers })},
	{"hash-process", "on", "latch serve hashes passwords in a separate low-priority process (off: on threads of its own)", boolean(func(c *Config) *bool { return &c.HashProcess })},
	{"gc-heap-floor", "64", "latch serve keeps the garbage collector's heap goal at least this many MiB (0: Go's default; GOGC or GOMEMLIMIT set: theirs)", integer(func(c *Config) *int { return &c.GCHeapFloor })},
	{"argon2-memory", "19456", "argon2id memory per hash in KiB (OWASP default 19 MiB)", integer(func(c *Config) *int { return &c.Argon2Memory })},
	{"argon2-iterations", "2", "argon2id passes", integer(func(c *Config) *int { return &c.Argon2Iterations })},
	{"log-level", "info", "debug, info, warn, error", str(func(c *Config) *string { return &c.LogLevel })},
	{"log-format", "text", "text or json", str(func(c *Config) *string { return &c.LogFormat })},
}

// ParseDuration is time.ParseDuration plus a d (days) suffix, and "off"
// for zero.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "off" || v == "0" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(v, 'd'); i > 0 {
		n, err := strconv.ParseFloat(v[:i], 64)
		signed := func(s string) bool { return s != "" && (s[0] == '-' || s[0] == '+') }
		if err != nil || signed(v) || signed(v[i+1:]) || math.IsInf(n, 0) || math.IsNaN(n) || n > 100*365 {
			return 0, fmt.Errorf("not a duration: %q (use Go durations like 15m, 36h, or 14d, 1d12h)", v)
		}
		days = time.Duration(n * float64(24*time.Hour))
		v = v[i+1:]
		if v == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration: %q (use Go durations like 15m, 36h, or 14d)", v)
	}
	if d+days < 0 {
		return 0, fmt.Errorf("negative duration: %q", v)
	}
	return d + days, nil
}

// ParseBool accepts true/false, on/off, yes/no, 1/0.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "on", "yes":
		return true, nil
	case "0", "false", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q (use on/off or true/false)", v)
}

// Register adds every setting as a flag to fs and returns a function that,
// after fs.Parse, builds the Config: flags over LATCH_* variables over the
// file named by --config or LATCH_CONFIG over defaults.
func Register(fs *flag.FlagSet, getenv func(string) string) func() (*Config, error) {
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		vals[s.name] = fs.String(s.name, "", fmt.Sprintf("%s (env %s, default %q)", s.help, Env(s.name), s.def))
	}
	file := fs.String("config", "", "optional config file of KEY=VALUE lines (LATCH_* names) (env LATCH_CONFIG)")
	return func() (*Config, error) {
		set := make(map[string]bool)
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		path := *file
		if path == "" {
			path = getenv("LATCH_CONFIG")
		}
		fromFile := map[string]string{}
		if path != "" {
			var err error
			if fromFile, err = readFile(path); err != nil {
				return nil, err
			}
		}
		c := &Config{}
		var errs []error
		for _, s := range settings {
			v, src := s.def, "default"
			if fv, ok := fromFile[Env(s.name)]; ok {
				v, src = fv, path
			}
			if ev, ok := lookup(getenv, Env(s.name)); ok {
				v, src = ev, Env(s.name)
			}
			if set[s.name] {
				v, src = *vals[s.name], "--"+s.name
			}
			if err := s.set(c, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
			}
			if src != "default" {
				if c.given == nil {
					c.given = map[string]bool{}
				}
				c.given[s.name] = true
			}
		}
		for k := range fromFile {
			if !known(k) {
				errs = append(errs, fmt.Errorf("%s: unknown setting %s", path, k))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return c, c.Validate()
	}
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func known(env string) bool {
	for _, s := range settings {
		if Env(s.name) == env {
			return true
		}
	}
	return false
}

func readFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		k = strings.ToUpper(strings.TrimSpace(k))
		if !strings.HasPrefix(k, "LATCH_") {
			k = "LATCH_" + k
		}
		out[k] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return out, sc.Err()
}

// Given reports whether the setting name (a flag name, e.g. "algorithm")
// was given by a flag, a LATCH_* variable or the config file, rather than
// left at its default.
func (c *Config) Given(name string) bool { return c.given[name] }

// Validate checks values that parse but make no sense together.
func (c *Config) Validate() error {
	var errs []error
	switch c.Algorithm {
	case "HS256", "HS384", "HS512", "ES256", "EdDSA", "RS256":
	default:
		errs = append(errs, fmt.Errorf("algorithm %q: want HS256, HS384, HS512, ES256, EdDSA or RS256", c.Algorithm))
	}
	if c.AccessTokenLifetime <= 0 || c.RefreshTokenLifetime <= 0 || c.SessionMaxLifetime <= 0 {
		errs = append(errs, errors.New("token and session lifetimes must be positive"))
	} else if min(c.AccessTokenLifetime, c.RefreshTokenLifetime, c.SessionMaxLifetime) < time.Second {
		// exp and iat are whole seconds: a shorter lifetime could issue
		// a token that has expired already.
		errs = append(errs, errors.New("token and session lifetimes must be at least 1s"))
	}
	if c.SigningKey != "" && strings.TrimSpace(c.SigningKey) == "" {
		errs = append(errs, errors.New("signing-key: blank (unset it to have a key generated in the data directory)"))
	}
	switch c.Revocation {
	case "immediate", "refresh-only":
	default:
		errs = append(errs, fmt.Errorf("revocation %q: want immediate or refresh-only", c.Revocation))
	}
	switch c.TokenFormat {
	case "jwt", "opaque":
	default:
		errs = append(errs, fmt.Errorf("token-format %q: want jwt or opaque", c.TokenFormat))
	}
	switch c.WireFormat {
	case "5.2", "5.5":
	default:
		errs = append(errs, fmt.Errorf("wire-format %q: want 5.2 or 5.5", c.WireFormat))
	}
	switch strings.ToLower(c.CookieSameSite) {
	case "lax", "strict":
	default:
		errs = append(errs, fmt.Errorf("cookie-samesite %q: want Lax or Strict", c.CookieSameSite))
	}
	if len(c.AuthHeaderTypes) == 0 {
		errs = append(errs, errors.New("auth-header-types: at least one"))
	}
	if c.UserIDClaim == "" {
		errs = append(errs, errors.New("user-id-claim: empty"))
	}
	for _, name := range c.CustomClaims {
		switch name {
		case "username", "role", "email":
		default:
			errs = append(errs, fmt.Errorf("custom-claims: unknown field %q (username, role, email)", name))
		}
	}
	for name, spec := range map[string]string{"throttle-anon": c.ThrottleAnon, "throttle-user": c.ThrottleUser} {
		if _, _, err := ratelimit.ParseRate(spec); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if c.PasswordMinLength < 1 {
		errs = append(errs, errors.New("password-min-length: at least 1"))
	}
	if _, err := auth.ParseLoginField(c.LoginField); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.AdminRole) == "" {
		errs = append(errs, errors.New("admin-role: empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: empty"))
	}
	errs = append(errs, c.checkMail()...)
	return errors.Join(errs...)
}

// checkMail checks the account mail settings. Errors name the variable
// and never echo the SMTP URL, which holds a password.
func (c *Config) checkMail() []error {
	var errs []error
	if c.SMTPURL != "" {
		if _, err := mail.ParseSMTPURL(c.SMTPURL); err != nil {
			errs = append(errs, fmt.Errorf("%s (--smtp-url): %w", Env("smtp-url"), err))
		}
	}
	if a, err := netmail.ParseAddress(c.MailFrom); err != nil || a.Address == "" {
		errs = append(errs, fmt.Errorf("%s (--mail-from) %q: not an e-mail address", Env("mail-from"), c.MailFrom))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%s (--public-url) %q: want http(s)://host[:port]", Env("public-url"), c.PublicURL))
		}
	}
	if !strings.Contains(c.PasswordResetURL, "{uid}") || !strings.Contains(c.PasswordResetURL, "{token}") {
		errs = append(errs, fmt.Errorf("%s (--password-reset-url) %q: must contain {uid} and {token}", Env("password-reset-url"), c.PasswordResetURL))
	}
	if !strings.Contains(c.EmailVerifyURL, "{key}") {
		errs = append(errs, fmt.Errorf("%s (--email-verify-url) %q: must contain {key}", Env("email-verify-url"), c.EmailVerifyURL))
	}
	if c.PasswordResetTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%s (--password-reset-timeout): must be positive", Env("password-reset-timeout")))
	}
	if _, err := auth.ParseEmailVerification(c.EmailVerification); err != nil {
		errs = append(errs, fmt.Errorf("%s (--email-verification): %w", Env("email-verification"), err))
	}
	return errs
}

// SQLitePath returns the SQLite file to use, or "" when DatabaseURL names
// PostgreSQL (server.Config.SQLitePath).
func (c *Config) SQLitePath() (string, error) {
	sc := server.Config{DataDir: c.DataDir, DatabaseURL: c.DatabaseURL}
	return sc.SQLitePath()
}

// Usage lists every setting with its variable and default, for --help.
func Usage() string {
	var b strings.Builder
	for _, s := range settings {
		fmt.Fprintf(&b, "  %-34s --%s (default %q)\n      %s\n", Env(s.name), s.name, s.def, s.help)
	}
	return b.String()
}

// Server returns the assembly's configuration: the same settings in
// server.Config's terms (where a zero value is the default, a setting
// turned off is spelled negative or inverted).
func (c *Config) Server() server.Config {
	sc := server.Config{
		DataDir:                     c.DataDir,
		DatabaseURL:                 c.DatabaseURL,
		RedisURL:                    c.RedisURL,
		SigningKey:                  c.SigningKey,
		VerifyingKeys:               c.VerifyingKeys,
		Algorithm:                   c.Algorithm,
		Audience:                    c.Audience,
		Issuer:                      c.Issuer,
		Leeway:                      c.Leeway,
		UserIDClaim:                 c.UserIDClaim,
		CustomClaims:                append([]string{}, c.CustomClaims...),
		AuthHeaderTypes:             c.AuthHeaderTypes,
		SimpleJWT55:                 c.WireFormat == "5.5",
		AccessTokenLifetime:         c.AccessTokenLifetime,
		RefreshTokenLifetime:        c.RefreshTokenLifetime,
		SlidingTokenLifetime:        c.SlidingTokenLifetime,
		SlidingTokenRefreshLifetime: c.SlidingTokenRefreshLifetime,
		SessionMaxLifetime:          c.SessionMaxLifetime,
		SessionIdleTimeout:          c.SessionIdleTimeout,
		DisableRotation:             !c.RotateRefreshTokens,
		KeepRotatedTokens:           !c.BlacklistAfterRotation,
		RefreshReuseInterval:        c.RefreshReuseInterval,
		RefreshOnly:                 c.Revocation == "refresh-only",
		SkipLastLogin:               !c.UpdateLastLogin,
		LoginFailures:               c.LoginFailures,
		ThrottleAnon:                c.ThrottleAnon,
		ThrottleUser:                c.ThrottleUser,
		TrustedProxies:              c.TrustedProxies,
		Upstream:                    c.Upstream,
		UpstreamPublic:              c.UpstreamPublic,
		CORSOrigins:                 c.CORSOrigins,
		IntrospectionClients:        c.IntrospectionClients,
		CookieMode:                  c.CookieMode,
		InsecureCookies:             !c.CookieSecure,
		CookieSameSite:              http.SameSiteLaxMode,
		SlidingTokens:               c.SlidingTokens,
		OpaqueTokens:                c.TokenFormat == "opaque",
		MaxBodyBytes:                c.MaxBodyBytes,
		PasswordMinLength:           c.PasswordMinLength,
		LoginField:                  c.LoginField,
		AdminRole:                   c.AdminRole,
		SMTPURL:                     c.SMTPURL,
		MailFrom:                    c.MailFrom,
		MailTemplates:               c.MailTemplates,
		PublicURL:                   c.PublicURL,
		PasswordResetURL:            c.PasswordResetURL,
		PasswordResetTimeout:        c.PasswordResetTimeout,
		EmailVerifyURL:              c.EmailVerifyURL,
		EmailVerification:           c.EmailVerification,
		HashWorkers:                 c.HashWorkers,
		Argon2Memory:                c.Argon2Memory,
		Argon2Iterations:            c.Argon2Iterations,
	}
	if sc.RefreshReuseInterval == 0 {
		sc.RefreshReuseInterval = -1 // 0 disables it here
	}
	if sc.LoginFailures == 0 {
		sc.LoginFailures = -1 // off
	}
	if strings.EqualFold(c.CookieSameSite, "strict") {
		sc.CookieSameSite = http.SameSiteStrictMode
	}
	return sc
}
