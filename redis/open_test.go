package redis_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch/internal/testenv"
	"github.com/latch-auth/latch/redis"
)

func TestOpenSingle(t *testing.T) {
	t.Parallel()
	url := needEnv(t, "LATCH_TEST_REDIS_URL", true)
	c, err := redis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*goredis.Client); !ok {
		t.Errorf("Open(%s) = %T, want *goredis.Client", url, c)
	}
	// The bare host:port form.
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")
	c2, err := redis.Open(context.Background(), addr)
	if err != nil {
		t.Fatalf("Open(%s): %v", addr, err)
	}
	_ = c2.Close()
}

func TestOpenCluster(t *testing.T) {
	t.Parallel()
	addrs := needEnv(t, "LATCH_TEST_REDIS_CLUSTER_ADDRS", clusterRequired())
	list := strings.Split(addrs, ",")
	tests := []struct{ name, url string }{
		{"bare addresses", addrs},
		{"URLs", "redis://" + strings.Join(list, ", redis://")},
		{"addr query", "redis://" + list[0] + "?addr=" + strings.Join(list[1:], "&addr=")},
		// One node: Open finds out it is a cluster's.
		{"one node", list[0]},
		{"one node URL", "redis://" + list[len(list)-1] + "/0"},
		{"one node URL with options", "redis://" + list[1] + "?pool_size=7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := redis.Open(context.Background(), tt.url)
			if err != nil {
				t.Fatalf("Open(%s): %v", tt.url, err)
			}
			defer c.Close()
			cc, ok := c.(*goredis.ClusterClient)
			if !ok {
				t.Fatalf("Open(%s) = %T, want *goredis.ClusterClient", tt.url, c)
			}
			if strings.Contains(tt.url, "pool_size=7") && cc.Options().PoolSize != 7 {
				t.Errorf("pool_size: %d, want the URL's 7", cc.Options().PoolSize)
			}
			var n atomic.Int32 // ForEachMaster runs f concurrently
			err = cc.ForEachMaster(context.Background(), func(context.Context, *goredis.Client) error { n.Add(1); return nil })
			if err != nil || n.Load() != 3 {
				t.Errorf("masters: %d, %v; want 3", n.Load(), err)
			}
			// Keys of every slot: on a node taken as a single server,
			// most would answer MOVED.
			for i := range 20 {
				key := "latch:test:open:" + strconv.Itoa(i)
				if err := c.Set(context.Background(), key, "v", time.Minute).Err(); err != nil {
					t.Fatalf("SET %s: %v", key, err)
				}
			}
		})
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-Pa55"
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()

	tests := []struct{ name, url string }{
		{"unreachable", "redis://user:" + secret + "@" + closed + "/0"},
		{"unreachable, TLS", "rediss://:" + secret + "@" + closed},
		{"bad port", "redis://user:" + secret + "@host:port/0"},
		{"bad escape", "redis://user:" + secret + "%zz@host:1/0"},
		{"bad database", "redis://:" + secret + "@host:1/x"},
		{"bad scheme", "http://:" + secret + "@host:1"},
		{"bad option", "redis://:" + secret + "@host:1/0?dial_timeout=" + secret},
		{"bad option, quotes", "redis://:" + secret + "@host:1/0?dial_timeout=%22" + secret + "%22"},
		{"bad number", "redis://:" + secret + "@host:1/0?pool_size=" + secret},
		{"cluster, bad second address", "redis://:" + secret + "@" + closed + ",redis://:" + secret + "@h:p"},
		{"cluster, database", "redis://:" + secret + "@" + closed + ",redis://:" + secret + "@" + closed + "/3"},
		{"cluster, unreachable", "redis://:" + secret + "@" + closed + "," + closed},
		{"neither URL nor address", secret},
		{"empty", ""},
	}
	if url := os.Getenv("LATCH_TEST_REDIS_URL"); url == "" {
		if testenv.CI() {
			t.Fatal("LATCH_TEST_REDIS_URL unset: the wrong-password case needs a Redis server (run under scripts/testenv.sh)")
		}
	} else {
		// A server with no password refuses AUTH.
		tests = append(tests, struct{ name, url string }{"wrong password", strings.Replace(url, "redis://", "redis://nobody:"+secret+"@", 1)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := redis.Open(ctx, tt.url)
			if err == nil {
				_ = c.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.url)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows the password: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}
