package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch/redis"
)

// target is one kind of Redis deployment the tests run against.
type target struct {
	name string
	url  string // for redis.Open
}

// needEnv returns the environment variable name's value. When it is unset
// the test is skipped, except in CI (CI=true), where integration tests
// must fail rather than silently skip; required is false for services the
// test environment may have been told not to start.
func needEnv(tb testing.TB, name string, required bool) string {
	tb.Helper()
	if required {
		return testenv.Getenv(tb, name)
	}
	v := os.Getenv(name)
	if v == "" {
		tb.Skipf("%s is not set; run the tests through scripts/testenv.sh", name)
	}
	return v
}

// clusterRequired reports whether scripts/testenv.sh was asked to start a
// Redis Cluster (it does unless LATCH_TESTENV_CLUSTER=0).
func clusterRequired() bool { return os.Getenv("LATCH_TESTENV_CLUSTER") != "0" }

// forEachTarget runs f against a single Redis server and, when one is
// available, against a Redis Cluster, as parallel subtests.
func forEachTarget(t *testing.T, f func(t *testing.T, tg target)) {
	t.Helper()
	tests := []struct {
		name     string
		env      string
		required bool
	}{
		{"single", "LATCH_TEST_REDIS_URL", true},
		{"cluster", "LATCH_TEST_REDIS_CLUSTER_ADDRS", clusterRequired()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := needEnv(t, tt.env, tt.required)
			f(t, target{name: tt.name, url: url})
		})
	}
}

// mustOpen opens a new client (its own connection pool) to tg, closed
// when the test ends.
func mustOpen(tb testing.TB, tg target) goredis.UniversalClient {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := redis.Open(ctx, tg.url)
	if err != nil {
		tb.Fatalf("Open(%s): %v", tg.name, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// mustOpenNamed is mustOpen with every connection named name (CLIENT
// SETNAME), pub/sub connections included, so a test can find and kill
// its own connections without touching those of parallel tests.
func mustOpenNamed(tb testing.TB, tg target, name string) goredis.UniversalClient {
	tb.Helper()
	var c goredis.UniversalClient
	if tg.name == "cluster" {
		c = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(tg.url, ","), ClientName: name})
	} else {
		opts, err := goredis.ParseURL(tg.url)
		if err != nil {
			tb.Fatal(err)
		}
		opts.ClientName = name
		c = goredis.NewClient(opts)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// unique returns a random suffix for keys, channels and names, so that
// tests run in parallel on one server.
func unique() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// forEachMaster runs f on every master of a cluster client, or on the
// client itself.
func forEachMaster(ctx context.Context, c goredis.UniversalClient, f func(ctx context.Context, c *goredis.Client) error) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, f)
	}
	return f(ctx, c.(*goredis.Client))
}

// scanKeys returns every key matching pattern, on every master.
func scanKeys(tb testing.TB, c goredis.UniversalClient, pattern string) []string {
	tb.Helper()
	ctx := context.Background()
	var (
		keys = make(chan []string, 16)
		all  []string
	)
	err := forEachMaster(ctx, c, func(ctx context.Context, n *goredis.Client) error {
		var found []string
		it := n.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			found = append(found, it.Val())
		}
		keys <- found
		return it.Err()
	})
	close(keys)
	if err != nil {
		tb.Fatalf("SCAN %s: %v", pattern, err)
	}
	for k := range keys {
		all = append(all, k...)
	}
	return all
}
