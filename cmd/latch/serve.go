package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/examples/orders"
	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/gcfloor"
	"github.com/latch-auth/latch/internal/ratelog"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/postgres"
	"github.com/latch-auth/latch/server"
	"github.com/latch-auth/latch/sqlite"
)

func serve(ctx context.Context, env Env, cfg *config.Config, _ *flag.FlagSet) error {
	log := newLogger(cfg, env.Stderr)
	// go-redis logs its own dial failures, through a logger of its package;
	// they join latch's structured log, once a second in an outage.
	goredis.SetLogger(redisLog{log})
	sc := serverConfig(cfg, log)
	if cfg.HashProcess {
		sc.HashProcess = []string{"hash-worker"}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sc.Registry = reg
	s, err := server.New(ctx, sc)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(env.Stdout, "latch %s listening on %s\n", version, base)
	fmt.Fprintf(env.Stdout, "  create a user:  latch createuser alice   (password on stdin)\n")
	fmt.Fprintf(env.Stdout, "  log in:         curl -X POST %s/api/token/ -d username=alice -d password=…\n", base)
	fmt.Fprintf(env.Stdout, "  health:         %s/healthz   metrics: %s/metrics\n", base, base)
	fmt.Fprintf(env.Stdout, "  try it:         %s/api/docs/ (Swagger UI)   %s/demo/ (the demo page)\n", base, base)
	// RFC 7518 §3.2: an HMAC key at least as long as the hash.
	if want := map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}[cfg.Algorithm]; cfg.SigningKey != "" && len(cfg.SigningKey) < want {
		log.Warn(fmt.Sprintf("LATCH_SIGNING_KEY is shorter than %d bytes, the size of %s's hash: a short HMAC secret can be guessed offline from any token", want, cfg.Algorithm),
			"bytes", len(cfg.SigningKey))
	}
	if idle := cfg.SessionIdleTimeout; idle > 0 && idle < cfg.AccessTokenLifetime {
		// A session is used when it is refreshed: a client that only
		// calls the API with its access token refreshes when that expires.
		log.Warn("the session idle timeout is shorter than the access token lifetime: a session whose client only uses its access token will be found idle at its first refresh",
			"idle_timeout", idle.String(), "access_token_lifetime", cfg.AccessTokenLifetime.String())
	}
	log.Info("serving", "addr", ln.Addr().String(), "database", databaseKind(cfg), "state", stateKind(cfg))
	if cfg.GCHeapFloor > 0 && !gcfloor.Overridden() {
		gcCtx, stopGC := context.WithCancel(ctx)
		defer stopGC()
		go gcfloor.Run(gcCtx, uint64(cfg.GCHeapFloor)<<20, 500*time.Millisecond)
	}
	return s.Serve(ctx, ln)
}

// serverConfig is cfg for server.New, with seed 000's example application
// mounted at /api/orders/, as latch serve offers it.
func serverConfig(cfg *config.Config, log *slog.Logger) server.Config {
	sc := cfg.Server()
	sc.Logger = log
	sc.Routes = func(s *server.Server) []httpapi.Route {
		return []httpapi.Route{orders.Route(s.Auth(), ordersStore(s.Store()))}
	}
	return sc
}

// ordersStore keeps the example's orders in latch's database.
func ordersStore(st server.Store) orders.Store {
	if db, ok := st.(*postgres.DB); ok {
		return orders.PostgresStore{Pool: db.Pool()}
	}
	return orders.SQLiteStore{DB: st.(*sqlite.DB).SQL()}
}

// redisLog hands go-redis's log lines to slog. A failure to reach Redis
// is marked as an outage, which the log says once a second; any other line
// passes as it is.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	if strings.Contains(line, "dial") || strings.Contains(line, "connection") {
		l.log.WarnContext(ctx, "redis client", "err", &latch.UnavailableError{Store: "redis", Err: errors.New(line)})
		return
	}
	l.log.WarnContext(ctx, "redis client", "detail", line)
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

// hashWorker is the process server.Config.HashProcess starts: it hashes
// with the argon2 parameters and as many jobs at once as its flags say,
// until its input ends. Signals are the server's business: the worker has
// its own process group and ends with its input.
func hashWorker(_ context.Context, env Env, cfg *config.Config, _ *flag.FlagSet) error {
	sc := cfg.Server()
	hasher, err := password.NewHasher(server.HasherParams(sc))
	if err != nil {
		return err
	}
	return password.ServeProcess(env.Stdin, env.Stdout, hasher, server.HashWorkers(sc))
}
