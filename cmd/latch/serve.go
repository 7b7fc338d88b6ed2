package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/ratelimit"
)

func serve(ctx context.Context, env Env, cfg *config.Config, _ *flag.FlagSet) error {
	log := newLogger(cfg, env.Stderr)
	a, err := newApp(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	api, err := a.handler(reg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}

	// Shutdown runs in order: the HTTP server drains, then the background
	// work (revocation sync, purge) stops and is waited for, and only then
	// do the stores close (a.Close, deferred above).
	ctx, cancel := context.WithCancel(ctx)
	bg, bgCtx := errgroup.WithContext(ctx)
	bg.Go(func() error { return a.revocations.Run(bgCtx) })
	bg.Go(func() error { a.housekeeping(bgCtx); return nil })
	defer func() {
		cancel()
		if err := bg.Wait(); err != nil {
			log.Warn("background work", "err", err)
		}
	}()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(env.Stdout, "latch %s listening on %s\n", version, base)
	fmt.Fprintf(env.Stdout, "  create a user:  latch createuser alice   (password on stdin)\n")
	fmt.Fprintf(env.Stdout, "  log in:         curl -X POST %s/api/token/ -d username=alice -d password=…\n", base)
	fmt.Fprintf(env.Stdout, "  health:         %s/healthz   metrics: %s/metrics\n", base, base)
	log.Info("serving", "addr", ln.Addr().String(), "database", databaseKind(cfg), "state", stateKind(cfg))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func databaseKind(cfg *config.Config) string {
	if p, _ := cfg.SQLitePath(); p != "" {
		return "sqlite:" + p
	}
	return "postgres"
}

func stateKind(cfg *config.Config) string {
	if cfg.RedisURL != "" {
		return "redis"
	}
	return "in-process"
}

// handler is latch's HTTP API over a.
func (a *app) handler(reg *prometheus.Registry) (http.Handler, error) {
	anon, err := a.limiter(a.cfg.ThrottleAnon, "anon")
	if err != nil {
		return nil, fmt.Errorf("throttle-anon: %w", err)
	}
	user, err := a.limiter(a.cfg.ThrottleUser, "user")
	if err != nil {
		return nil, fmt.Errorf("throttle-user: %w", err)
	}
	return httpapi.New(httpapi.Options{
		Cookies: httpapi.CookieOptions{
			Mode:     a.cfg.CookieMode,
			Insecure: !a.cfg.CookieSecure,
			SameSite: sameSite(a.cfg.CookieSameSite),
		},
		Orders:         a.store,
		Sliding:        a.cfg.SlidingTokens,
		AnonLimiter:    anon,
		UserLimiter:    user,
		Auth:           a.auth,
		Tokens:         a.tokens,
		HeaderTypes:    a.cfg.AuthHeaderTypes,
		MaxBodyBytes:   a.cfg.MaxBodyBytes,
		SimpleJWT55:    a.cfg.WireFormat == "5.5",
		TrustedProxies: a.cfg.TrustedProxies,
		Ready:          a.ready,
		Registry:       reg,
		Logger:         a.log,
	})
}

func sameSite(v string) http.SameSite {
	if strings.EqualFold(v, "strict") {
		return http.SameSiteStrictMode
	}
	return http.SameSiteLaxMode
}

// limiter builds the throttle of one scope; nil when off.
func (a *app) limiter(spec string, scope string) (ratelimit.Limiter, error) {
	rate, on, err := ratelimit.ParseRate(spec)
	if err != nil || !on {
		return nil, err
	}
	if scope == "anon" {
		return a.shared.anonLimiter(rate, a.now, a.log)
	}
	return a.shared.userLimiter(rate, a.now, a.log), nil
}

// ready is the readiness probe: the database answers and the revocation
// index is current.
func (a *app) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if !a.revocations.Synced() {
		return errors.New("revocation index not synced")
	}
	return nil
}

// housekeeping purges expired sessions and refresh records hourly, as
// SimpleJWT's flushexpiredtokens.
func (a *app) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := a.store.PurgeExpired(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			a.log.Warn("purge expired sessions", "err", err)
		} else if n > 0 {
			a.log.Info("purged expired sessions and refresh records", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// hashWorker is the process newHasher starts: it hashes with the argon2
// parameters and as many jobs at once as its flags say, until its input
// ends. Signals are the server's business: the worker has its own process
// group and ends with its input.
func hashWorker(_ context.Context, env Env, cfg *config.Config, _ *flag.FlagSet) error {
	hasher, err := password.NewHasher(hasherParams(cfg))
	if err != nil {
		return err
	}
	return password.ServeProcess(env.Stdin, env.Stdout, hasher, hashWorkers(cfg))
}
