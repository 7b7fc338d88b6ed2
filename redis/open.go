package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Open connects to the Redis named by rawURL and checks it with a PING.
//
// rawURL is one of:
//   - a single server: redis://[user:password@]host:port[/db] or rediss://
//     for TLS (goredis.ParseURL's query options apply), or unix:///path;
//   - a Redis Cluster: one node's address as above (Open asks the server
//     whether it is a cluster node), or several comma-separated seed
//     addresses, as URLs
//     (redis://a:6379,redis://b:6379) or bare host:port pairs
//     (a:6379,b:6379), or one URL with addr query parameters
//     (redis://a:6379?addr=b:6379&addr=c:6379). Credentials and TLS come
//     from the first URL that has them; a Cluster has only database 0.
//
// Errors never contain the password.
//
// The client fails fast when Redis is away: dial, read and write timeouts
// of 250 ms, one dial attempt and one quick retry (unless the URL sets
// them),
// and a circuit breaker that, after three failures in a row, fails
// commands at once until a PING, sent in the background every second,
// gets an answer.
// Every such failure is a *latch.UnavailableError (errors.Is
// latch.ErrUnavailable), with ErrCircuitOpen as the cause when Redis was
// not tried.
func Open(ctx context.Context, rawURL string) (goredis.UniversalClient, error) {
	client, err := newClient(rawURL)
	if err != nil {
		return nil, err
	}
	if single, ok := client.(*goredis.Client); ok {
		cluster, err := asCluster(ctx, single, strings.TrimSpace(rawURL))
		if err != nil {
			_ = client.Close()
			return nil, err
		}
		if cluster != nil {
			_ = client.Close()
			client = cluster
		}
	}
	client.AddHook(newBreaker(func(ctx context.Context) error { return client.Ping(ctx).Err() }))
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", redact(rawURL), err)
	}
	return client, nil
}

// asCluster returns a cluster client seeded with single's address when
// single is a node of a Redis Cluster, nil when it is not (or cannot say:
// the ping that follows reports an unreachable server). Taken as a single
// server, one node of a cluster answers MOVED for the keys of every other
// node, and what is kept there (throttles, the failed-login guard, the
// cache) would quietly fall back to each process.
// raw is the URL (or host:port) single was made from; the cluster client
// is made from it the way several seed addresses would be, its query
// options included.
func asCluster(ctx context.Context, single *goredis.Client, raw string) (*goredis.ClusterClient, error) {
	info, err := single.Info(ctx, "cluster").Result()
	if err != nil || !strings.Contains(info, "cluster_enabled:1") {
		return nil, nil
	}
	o := single.Options()
	if o.Network != "tcp" {
		return nil, errors.New("redis: the Redis URL names a Redis Cluster node through a socket; give its redis:// address")
	}
	if o.DB != 0 {
		return nil, errors.New("redis: the Redis URL names a Redis Cluster node, and a Redis Cluster has only database 0")
	}
	opts := &goredis.ClusterOptions{Addrs: []string{raw}}
	if strings.Contains(raw, "://") {
		if opts, err = goredis.ParseClusterURL(raw); err != nil {
			return nil, sanitize(err, 0)
		}
	}
	return goredis.NewClusterClient(failFastCluster(opts)), nil
}

func newClient(rawURL string) (goredis.UniversalClient, error) {
	parts := strings.Split(strings.TrimSpace(rawURL), ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if parts[i] == "" {
			return nil, errors.New("redis: empty address in the Redis URL")
		}
	}
	if len(parts) == 1 {
		p := parts[0]
		if !strings.Contains(p, "://") {
			if _, _, err := net.SplitHostPort(p); err != nil {
				return nil, errors.New("redis: the Redis URL is neither a redis:// URL nor host:port")
			}
			return goredis.NewClient(failFast(&goredis.Options{Addr: p})), nil
		}
		u, err := parseURL(p, 0)
		if err != nil {
			return nil, err
		}
		if u.Query().Has("addr") {
			opts, err := goredis.ParseClusterURL(p)
			if err != nil {
				return nil, sanitize(err, 0)
			}
			return goredis.NewClusterClient(failFastCluster(opts)), nil
		}
		opts, err := goredis.ParseURL(p)
		if err != nil {
			return nil, sanitize(err, 0)
		}
		return goredis.NewClient(failFast(opts)), nil
	}

	cluster := &goredis.ClusterOptions{}
	for i, p := range parts {
		if !strings.Contains(p, "://") {
			if _, _, err := net.SplitHostPort(p); err != nil {
				return nil, fmt.Errorf("redis: address %d of the Redis URL is neither a redis:// URL nor host:port", i+1)
			}
			cluster.Addrs = append(cluster.Addrs, p)
			continue
		}
		if _, err := parseURL(p, i+1); err != nil {
			return nil, err
		}
		opts, err := goredis.ParseURL(p)
		if err != nil {
			return nil, sanitize(err, i+1)
		}
		if opts.Network != "tcp" {
			return nil, fmt.Errorf("redis: address %d: a Redis Cluster needs redis:// or rediss:// addresses", i+1)
		}
		if opts.DB != 0 {
			return nil, fmt.Errorf("redis: address %d: a Redis Cluster has only database 0", i+1)
		}
		cluster.Addrs = append(cluster.Addrs, opts.Addr)
		if cluster.Username == "" && cluster.Password == "" && cluster.TLSConfig == nil {
			cluster.Username, cluster.Password, cluster.TLSConfig = opts.Username, opts.Password, opts.TLSConfig
		}
	}
	return goredis.NewClusterClient(failFastCluster(&goredis.ClusterOptions{
		Addrs:     cluster.Addrs,
		Username:  cluster.Username,
		Password:  cluster.Password,
		TLSConfig: cluster.TLSConfig,
	})), nil
}

// failFast sets Open's fail-fast defaults where o has none.
func failFast(o *goredis.Options) *goredis.Options {
	setFailFast(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff, &o.MaxRetries, &o.DialerRetries)
	return o
}

func failFastCluster(o *goredis.ClusterOptions) *goredis.ClusterOptions {
	setFailFast(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff, &o.MaxRetries, &o.DialerRetries)
	return o
}

func setFailFast(dial, read, write, pool, minBackoff, maxBackoff *time.Duration, retries, dialAttempts *int) {
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{{dial, dialTimeout}, {read, ioTimeout}, {write, ioTimeout}, {pool, ioTimeout}, {minBackoff, minRetryBackoff}, {maxBackoff, maxRetryBackoff}} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	if *retries == 0 {
		*retries = maxRetries
	}
	if *dialAttempts == 0 {
		*dialAttempts = 1
	}
}

// parseURL parses one URL of the list (index 0 when there is only one)
// and returns an error that never quotes it: url.Parse's errors quote the
// whole URL, password included.
func parseURL(s string, index int) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, sanitize(err, index)
	}
	return u, nil
}

// sanitize turns a URL parsing error into one that cannot hold a secret:
// only go-redis's own messages (which name the scheme, the database or an
// option, never the user info) are kept, with any quoted value (an
// option's value, which might be a secret) elided.
func sanitize(err error, index int) error {
	where := "the Redis URL"
	if index > 0 {
		where = fmt.Sprintf("address %d of the Redis URL", index)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) || !strings.HasPrefix(err.Error(), "redis: ") {
		return fmt.Errorf("redis: cannot parse %s (check its syntax and the escaping of the password)", where)
	}
	msg := quoted.ReplaceAllString(strings.TrimPrefix(err.Error(), "redis: "), `"…"`)
	return fmt.Errorf("redis: %s: %s", where, msg)
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redact returns rawURL fit for errors and logs: every URL's password is
// replaced, and an unparsable URL is not shown at all.
func redact(rawURL string) string {
	parts := strings.Split(rawURL, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "://") {
			if strings.Contains(p, "@") {
				p = "(address)"
			}
			parts[i] = p
			continue
		}
		u, err := url.Parse(p)
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
