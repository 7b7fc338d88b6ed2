package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/ratelog"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// store is what a database backend provides.
type store interface {
	latch.UserStore
	latch.SessionStore
	latch.HandleStore
	latch.OrderStore
	Ping(ctx context.Context) error
	Close() error
}

// app is latch assembled from a Config.
type app struct {
	cfg         *config.Config
	log         *slog.Logger
	now         func() time.Time
	store       store
	shared      *shared
	hashProcess *password.Process // nil: hashing in this process
	tokens      *token.Engine
	revocations *revocation.Manager
	auth        *auth.Service
	closers     []func() error
}

func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// A store outage makes every flow log the same failure: once a second.
	return slog.New(ratelog.New(h, 0, nil))
}

// openStore opens the configured database and applies migrations.
func openStore(ctx context.Context, cfg *config.Config) (store, error) {
	path, err := cfg.SQLitePath()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return openPostgres(ctx, cfg.DatabaseURL)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return sqlite.Open(ctx, path)
}

// newApp assembles latch. The caller closes it. now is the clock (nil:
// time.Now); tests inject one so that they never sleep to expire a token.
func newApp(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time) (a *app, err error) {
	if now == nil {
		now = time.Now
	}
	a = &app{cfg: cfg, log: log, now: now}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.tokens, err = newEngine(cfg, log, now); err != nil {
		return nil, err
	}
	if a.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.store.Close)
	if a.shared, err = openShared(ctx, cfg.RedisURL, now); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.shared.Close)
	workers := hashWorkers(cfg)
	hasher, err := a.newHasher(cfg, workers)
	if err != nil {
		return nil, err
	}
	pool := password.NewPool(workers, 0)
	a.closers = append(a.closers, func() error { pool.Close(); return nil })
	opts := auth.DefaultOptions()
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher, opts.Pool = a.store, a.store, a.tokens, hasher, pool
	opts.AccessLifetime = cfg.AccessTokenLifetime
	opts.RefreshLifetime = cfg.RefreshTokenLifetime
	opts.SessionLifetime = cfg.SessionMaxLifetime
	opts.IdleTimeout = cfg.SessionIdleTimeout
	opts.Leeway = cfg.Leeway
	opts.RotateRefreshTokens = cfg.RotateRefreshTokens
	opts.BlacklistAfterRotation = cfg.BlacklistAfterRotation
	opts.ReuseInterval = cfg.RefreshReuseInterval
	opts.RefreshOnly = cfg.Revocation == "refresh-only"
	opts.UpdateLastLogin = cfg.UpdateLastLogin
	opts.CustomClaims = cfg.CustomClaims
	opts.MinPasswordLength = cfg.PasswordMinLength
	opts.Logger = log
	opts.Now = now
	opts.Cache = a.shared.cache
	if g := a.shared.guard(cfg.LoginFailures, now, log); g != nil {
		opts.Guard = g // a nil *Guard in the interface would not be nil
	}
	opts.Opaque = cfg.TokenFormat == "opaque"
	opts.Handles = a.store
	opts.Sliding = cfg.SlidingTokens
	opts.SlidingLifetime = cfg.SlidingTokenLifetime
	opts.SlidingRefreshLifetime = cfg.SlidingTokenRefreshLifetime
	a.revocations, err = revocation.NewManager(revocation.Options{
		Source: a.store,
		Bus:    a.shared.bus,
		Window: auth.RevocationWindow(opts),
		Logger: log,
		Now:    now,
	})
	if err != nil {
		return nil, err
	}
	if err := a.revocations.Load(ctx); err != nil {
		return nil, err
	}
	opts.Revocations = a.revocations
	if a.auth, err = auth.New(opts); err != nil {
		return nil, err
	}
	return a, nil
}

// keySetPath is where generated keys are kept.
func keySetPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "keys.json") }

// newEngine builds the token engine from the configured key, or from the
// key set in the data dir, generated on first start.
func newEngine(cfg *config.Config, log *slog.Logger, now func() time.Time) (*token.Engine, error) {
	opts := token.Options{
		Now:            now,
		UserIDClaim:    cfg.UserIDClaim,
		UserIDAsString: cfg.WireFormat == "5.5",
		Audience:       cfg.Audience,
		Issuer:         cfg.Issuer,
		Leeway:         cfg.Leeway,
	}
	if cfg.SigningKey != "" {
		k, err := parseKey(cfg.Algorithm, cfg.SigningKey, true)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		opts.SigningKey = k
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		set, created, err := token.LoadOrCreateKeySet(keySetPath(cfg), cfg.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("key set: %w", err)
		}
		if created {
			log.Info("generated a signing key", "alg", set.Signing.Algorithm, "kid", set.Signing.ID, "file", keySetPath(cfg))
		}
		opts.SigningKey, opts.VerificationKeys = set.Signing, set.Verification
	}
	extra, err := parseVerifyingKeys(cfg.Algorithm, cfg.VerifyingKeys)
	if err != nil {
		return nil, err
	}
	opts.VerificationKeys = append(opts.VerificationKeys, extra...)
	return token.New(opts)
}

// parseKey reads a PEM key or, for HS algorithms, a secret.
func parseKey(alg, s string, private bool) (*token.Key, error) {
	if strings.Contains(s, "-----BEGIN") {
		if private {
			return token.ParsePrivateKeyPEM(alg, []byte(s))
		}
		return token.ParsePublicKeyPEM(alg, []byte(s))
	}
	if !strings.HasPrefix(alg, "HS") {
		return nil, fmt.Errorf("%s needs a PEM key", alg)
	}
	return token.NewHMACKey(alg, []byte(s))
}

// parseVerifyingKeys reads PEM public keys (any asymmetric algorithm) and,
// outside PEM blocks, HS secrets one per line.
func parseVerifyingKeys(alg, s string) ([]*token.Key, error) {
	var keys []*token.Key
	rest := []byte(s)
	for {
		block, after := pem.Decode(rest)
		if block == nil {
			break
		}
		enc := pem.EncodeToMemory(block)
		var k *token.Key
		var err error
		for _, a := range []string{"RS256", "ES256", "EdDSA"} {
			if k, err = token.ParsePublicKeyPEM(a, enc); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("verifying key: %w", err)
		}
		keys = append(keys, k)
		rest = after
	}
	hsAlg := alg
	if !strings.HasPrefix(hsAlg, "HS") {
		hsAlg = "HS256"
	}
	for _, line := range strings.Split(string(rest), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		k, err := token.NewHMACKey(hsAlg, []byte(line))
		if err != nil {
			return nil, fmt.Errorf("verifying key: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// hashWorkers is how many passwords are hashed at once.
func hashWorkers(cfg *config.Config) int {
	if cfg.HashWorkers > 0 {
		return cfg.HashWorkers
	}
	// Leave a core to everything else: argon2 is CPU- and memory-bound,
	// and a login flood must not starve authenticated requests.
	return max(1, runtime.GOMAXPROCS(0)-1)
}

func hasherParams(cfg *config.Config) password.Params {
	return password.Params{Memory: uint32(cfg.Argon2Memory), Iterations: uint32(cfg.Argon2Iterations)}
}

// newHasher hashes in this process, or with LATCH_HASH_PROCESS in a
// "latch hash-worker" child running workers jobs at once.
func (a *app) newHasher(cfg *config.Config, workers int) (auth.PasswordHasher, error) {
	hasher, err := password.NewHasher(hasherParams(cfg))
	if err != nil || !cfg.HashProcess {
		return hasher, err
	}
	proc, err := password.StartProcess(password.ProcessConfig{
		Args: []string{"hash-worker",
			"--hash-workers", strconv.Itoa(workers),
			"--argon2-memory", strconv.Itoa(cfg.Argon2Memory),
			"--argon2-iterations", strconv.Itoa(cfg.Argon2Iterations)},
		// As many threads as jobs: the worker's Go runtime then never
		// runs more hashing at once than it was given.
		Env:    append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(workers)),
		Stderr: os.Stderr,
	})
	if err != nil {
		a.log.Warn("hashing passwords in this process instead", "err", err)
		return hasher, nil
	}
	a.closers = append(a.closers, proc.Close)
	a.hashProcess = proc
	a.log.Info("hashing passwords in a separate process", "pid", proc.Pid())
	return proc, nil
}
