// Package server assembles latch: it opens the stores a Config names (SQLite
// or PostgreSQL, in-process state or Redis), loads or generates the keys,
// and wires the flows, the revocation index, the rate limits and the HTTP
// API. `latch serve` is this package behind flags; an application embeds
// latch the same way:
//
//	srv, err := server.New(ctx, server.Config{DataDir: "./latch-data"})
//	…
//	defer srv.Close()
//	go srv.Run(ctx)                                  // revocation catch-up, housekeeping
//	mux.Handle("/api/", srv.Handler())               // latch's endpoints
//	mux.Handle("/hello", srv.Protect(helloHandler))  // your handlers, authenticated
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/mail"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/postgres"
	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// Store is what a database backend provides: *sqlite.DB and *postgres.DB.
type Store interface {
	latch.UserStore
	latch.SessionStore
	latch.RevocationLog
	latch.HandleStore
	latch.MailOutbox
	latch.AccountTokenStore
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ Store = (*sqlite.DB)(nil)
	_ Store = (*postgres.DB)(nil)
)

// KeyPublishDelay is how long a staged key (token.KeySet.Stage, latch keys
// rotate) is published before it signs: twice the time /.well-known/jwks.json
// may be cached, so that resource servers know it before they meet a token
// it signed.
const KeyPublishDelay = 2 * httpapi.JWKSMaxAge

// Server is latch assembled from a Config.
type Server struct {
	cfg         Config
	store       Store
	shared      *shared
	hashProcess *password.Process // nil: hashing in this process
	tokens      *token.Engine
	revocations *revocation.Manager
	outbox      *mail.Outbox
	auth        *auth.Service
	api         *httpapi.Server
	pool        *password.Pool
	// adaptiveHashing: Run resizes pool from the request rate (hash.go).
	adaptiveHashing bool
	closers         []func() error
}

// New assembles latch from cfg: it opens (and migrates) the database,
// connects to Redis when configured, and loads the revocation index. The
// caller runs Run for as long as it serves and then calls Close.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	// s is not the named result: a failure returns nil, and the deferred
	// Close must still see what was opened.
	s := &Server{cfg: cfg.withDefaults()}
	cfg = s.cfg
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.tokens, err = newEngine(cfg); err != nil {
		return nil, err
	}
	if s.store, err = OpenStore(ctx, cfg); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.store.Close)
	if s.shared, err = openShared(ctx, cfg.RedisURL, cfg.Now); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.shared.Close)
	workers := hashWorkers(cfg)
	hasher, err := s.newHasher(workers)
	if err != nil {
		return nil, err
	}
	pool := password.NewPool(workers, 0)
	if s.adaptiveHashing = cfg.HashWorkers <= 0 && workers > 1; s.adaptiveHashing {
		pool.SetWorkers(workers - 1) // until Run sees how busy requests are
	}
	s.pool = pool
	s.closers = append(s.closers, func() error { pool.Close(); return nil })
	opts := auth.DefaultOptions()
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher, opts.Pool = s.store, s.store, s.tokens, hasher, pool
	opts.AccessLifetime = cfg.AccessTokenLifetime
	opts.RefreshLifetime = cfg.RefreshTokenLifetime
	opts.SessionLifetime = cfg.SessionMaxLifetime
	opts.IdleTimeout = cfg.SessionIdleTimeout
	opts.Leeway = cfg.Leeway
	opts.RotateRefreshTokens = !cfg.DisableRotation
	opts.BlacklistAfterRotation = !cfg.KeepRotatedTokens
	opts.ReuseInterval = cfg.RefreshReuseInterval
	opts.RefreshOnly = cfg.RefreshOnly
	opts.UpdateLastLogin = !cfg.SkipLastLogin
	opts.CustomClaims = cfg.CustomClaims
	opts.MinPasswordLength = cfg.PasswordMinLength
	opts.LoginField = auth.LoginField(cfg.LoginField)
	opts.AdminRole = cfg.AdminRole
	opts.Logger = cfg.Logger
	opts.Now = cfg.Now
	opts.Cache = s.shared.cache
	if g := s.shared.guard(cfg.LoginFailures, cfg.Now, cfg.Logger); g != nil {
		opts.Guard = g // a nil *Guard in the interface would not be nil
	}
	opts.Opaque = cfg.OpaqueTokens
	opts.Handles = s.store
	opts.Sliding = cfg.SlidingTokens
	opts.SlidingLifetime = cfg.SlidingTokenLifetime
	opts.SlidingRefreshLifetime = cfg.SlidingTokenRefreshLifetime
	s.revocations, err = revocation.NewManager(revocation.Options{
		Source: s.store,
		Bus:    s.shared.bus,
		Window: auth.RevocationWindow(opts),
		Logger: cfg.Logger,
		Now:    cfg.Now,
		// Messages and catch-ups arrive once Run starts, after s.auth is
		// made (Load announces none).
		UserChanged: func(id int64) { s.auth.ForgetUser(id) },
	})
	if err != nil {
		return nil, err
	}
	if err := s.revocations.Load(ctx); err != nil {
		return nil, err
	}
	opts.Revocations = s.revocations
	if opts.Accounts, err = s.accounts(cfg); err != nil {
		return nil, err
	}
	if s.auth, err = auth.New(opts); err != nil {
		return nil, err
	}
	// Closers run last first: the mail work of finished requests is
	// queued before the stores close.
	s.closers = append(s.closers, func() error { s.auth.Drain(); return nil })
	if s.api, err = s.newAPI(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the stores and stops the hashing process. Stop Run first.
func (s *Server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Handler is latch's HTTP API: the SimpleJWT endpoints and latch's own,
// with the routes of Config.Routes.
func (s *Server) Handler() http.Handler { return s.api }

// API is the HTTP API itself, for its middleware (httpapi.Server.Verify).
func (s *Server) API() *httpapi.Server { return s.api }

// Protect lets only requests with a valid access token reach next
// (latch's 401 otherwise); next reads the caller with
// httpapi.PrincipalFrom.
func (s *Server) Protect(next http.Handler) http.Handler { return s.api.Require(next) }

// Auth is the flows, for an application's own use (login, revoke, …).
func (s *Server) Auth() *auth.Service { return s.auth }

// Tokens is the token engine.
func (s *Server) Tokens() *token.Engine { return s.tokens }

// Store is the database.
func (s *Server) Store() Store { return s.store }

// Revocations is the local revocation index and its sync.
func (s *Server) Revocations() *revocation.Manager { return s.revocations }

// Redis is the Redis client when RedisURL is set, else nil.
func (s *Server) Redis() goredis.UniversalClient { return s.shared.client }

// HashProcess is the password-hashing child process; nil when hashing
// runs in this process.
func (s *Server) HashProcess() *password.Process { return s.hashProcess }

// Run keeps the instance current until ctx ends: the revocation index's
// catch-up and Redis subscription, the mail outbox's delivery, and the
// hourly purge of expired sessions and account tokens. It returns when all of it has stopped.
func (s *Server) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.revocations.Run(ctx) })
	g.Go(func() error { s.housekeeping(ctx); return nil })
	g.Go(func() error { return s.outbox.Run(ctx) })
	if s.adaptiveHashing {
		g.Go(func() error { adaptHashing(ctx, s.pool, hashWorkers(s.cfg), s.auth.Authenticated); return nil })
	}
	return g.Wait()
}

// Serve serves the API on ln, with Run alongside, until ctx ends; then it
// shuts down gracefully: requests in flight finish, then the background
// work stops. The caller closes s afterwards.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	var g errgroup.Group
	g.Go(func() error { return s.Run(runCtx) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(httpapi.Listener(ln)) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		s.cfg.Logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		serveErr = srv.Shutdown(shutdownCtx)
		cancel()
		if err := <-errc; serveErr == nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	stopRun()
	return errors.Join(serveErr, g.Wait())
}

func (s *Server) newAPI() (*httpapi.Server, error) {
	anon, err := s.limiter(s.cfg.ThrottleAnon, "anon")
	if err != nil {
		return nil, fmt.Errorf("throttle-anon: %w", err)
	}
	user, err := s.limiter(s.cfg.ThrottleUser, "user")
	if err != nil {
		return nil, fmt.Errorf("throttle-user: %w", err)
	}
	opts := httpapi.Options{
		Cookies: httpapi.CookieOptions{
			Mode:     s.cfg.CookieMode,
			Insecure: s.cfg.InsecureCookies,
			SameSite: s.cfg.CookieSameSite,
		},
		Sliding:        s.cfg.SlidingTokens,
		AnonLimiter:    anon,
		UserLimiter:    user,
		Auth:           s.auth,
		Tokens:         s.tokens,
		HeaderTypes:    s.cfg.AuthHeaderTypes,
		MaxBodyBytes:   s.cfg.MaxBodyBytes,
		SimpleJWT55:    s.cfg.SimpleJWT55,
		TrustedProxies: s.cfg.TrustedProxies,
		PublicURL:      s.cfg.PublicURL,
		Ready:          s.ready,
		Registry:       s.cfg.Registry,
		Logger:         s.cfg.Logger,
		Omit:           s.cfg.Omit,
	}
	opts.IntrospectionClients = s.cfg.IntrospectionClients
	opts.CORSOrigins = s.cfg.CORSOrigins
	if s.cfg.Routes != nil {
		opts.Routes = s.cfg.Routes(s)
	}
	if s.cfg.Upstream != "" {
		if opts.Upstream, err = httpapi.ParseUpstream(s.cfg.Upstream); err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
		opts.UpstreamPublic = s.cfg.UpstreamPublic
	}
	return httpapi.New(opts)
}

// accounts assembles the account mail: templates, the sender (SMTP, or
// .eml files in the data dir) and the outbox in the database.
func (s *Server) accounts(cfg Config) (auth.AccountOptions, error) {
	tpl, err := mail.LoadTemplates(cfg.MailTemplates)
	if err != nil {
		return auth.AccountOptions{}, err
	}
	var sender mail.Sender = &mail.Files{Dir: filepath.Join(cfg.DataDir, "outbox"), Logger: cfg.Logger}
	if cfg.SMTPURL != "" {
		smtp, err := mail.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return auth.AccountOptions{}, fmt.Errorf("smtp url: %w", err)
		}
		smtp.TLS = cfg.SMTPTLS
		sender = smtp
	}
	s.outbox, err = mail.NewOutbox(mail.OutboxOptions{
		Store: s.store, Sender: sender, From: cfg.MailFrom, Logger: cfg.Logger, RetryBase: cfg.MailRetryBase,
	})
	if err != nil {
		return auth.AccountOptions{}, err
	}
	return auth.AccountOptions{
		Mailer:       &mail.Mailer{Templates: tpl, Outbox: s.outbox},
		Tokens:       s.store,
		ResetTimeout: cfg.PasswordResetTimeout,
		ResetURL:     cfg.PasswordResetURL,
		VerifyURL:    cfg.EmailVerifyURL,
		Verification: auth.EmailVerification(cfg.EmailVerification),
	}, nil
}

// limiter builds the throttle of one scope; nil when off.
func (s *Server) limiter(spec string, scope string) (ratelimit.Limiter, error) {
	rate, on, err := ratelimit.ParseRate(spec)
	if err != nil || !on {
		return nil, err
	}
	if scope == "anon" {
		return s.shared.anonLimiter(rate, s.cfg.Now, s.cfg.Logger)
	}
	return s.shared.userLimiter(rate, s.cfg.Now, s.cfg.Logger), nil
}

// ready is the readiness probe: the database answers and the revocation
// index is current.
func (s *Server) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if !s.revocations.Synced() {
		return errors.New("revocation index not synced")
	}
	return nil
}

// housekeeping purges expired sessions and refresh records hourly, as
// SimpleJWT's flushexpiredtokens.
func (s *Server) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := s.store.PurgeExpired(ctx, s.cfg.Now())
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("purge expired sessions", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("purged expired sessions and refresh records", "rows", n)
		}
		if n, err := s.store.PurgeAccountTokens(ctx, s.cfg.Now()); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("purge expired account tokens", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("purged expired reset tokens and verification keys", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// OpenStore opens the database cfg names and applies pending migrations,
// for commands that need nothing else (latch migrate, flushexpired).
func OpenStore(ctx context.Context, cfg Config) (Store, error) {
	cfg = cfg.withDefaults()
	path, err := cfg.SQLitePath()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return postgres.Open(ctx, cfg.DatabaseURL)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return sqlite.Open(ctx, path)
}

// newEngine builds the token engine from the configured key, or from the
// key set in the data dir, generated on first start.
func newEngine(cfg Config) (*token.Engine, error) {
	opts := token.Options{
		Now:            cfg.Now,
		UserIDClaim:    cfg.UserIDClaim,
		UserIDAsString: cfg.SimpleJWT55,
		Audience:       cfg.Audience,
		Issuer:         cfg.Issuer,
		Leeway:         cfg.Leeway,
	}
	if cfg.SigningKey != "" {
		k, err := token.ParseKey(cfg.Algorithm, cfg.SigningKey, true)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		opts.SigningKey = k
	} else if set, err := token.LoadKeySet(cfg.keySetPath()); cfg.KeepKeys && err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("key set: %w", err)
		}
		if opts.SigningKey, err = token.GenerateKey(cfg.Algorithm); err != nil {
			return nil, err
		}
	} else if cfg.KeepKeys {
		opts.SigningKey, opts.VerificationKeys = set.Signing, set.Verification
		if !set.NextFrom.IsZero() { // published: it may sign already
			opts.NextKey, opts.NextFrom = set.Next, set.NextFrom
		}
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		set, created, err := token.LoadOrCreateKeySet(cfg.keySetPath(), cfg.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("key set: %w", err)
		}
		if created {
			cfg.Logger.Info("generated a signing key", "alg", set.Signing.Algorithm, "kid", set.Signing.ID, "file", cfg.keySetPath())
		}
		if set.Publish(cfg.Now(), KeyPublishDelay) {
			// Unsaved (a read-only data dir), the next start publishes
			// it again for as long or promotes it again, and a restage
			// keeps it verifying (KeySet.Stage): all safe.
			if err := set.Save(cfg.keySetPath()); err != nil {
				cfg.Logger.Warn("could not record the key set's change", "file", cfg.keySetPath(), "err", err)
			}
		}
		if set.Next != nil {
			cfg.Logger.Info("next signing key published", "alg", set.Next.Algorithm, "kid", set.Next.ID, "signs_from", set.NextFrom.UTC().Format(time.RFC3339))
		}
		opts.SigningKey, opts.VerificationKeys = set.Signing, set.Verification
		opts.NextKey, opts.NextFrom = set.Next, set.NextFrom
	}
	extra, err := token.ParseVerificationKeys(cfg.Algorithm, cfg.VerifyingKeys)
	if err != nil {
		return nil, err
	}
	opts.VerificationKeys = append(opts.VerificationKeys, extra...)
	return token.New(opts)
}
