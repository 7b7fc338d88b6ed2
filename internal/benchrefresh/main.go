// Command benchrefresh is the load of `make bench`'s refresh scenario
// (scripts/bench/run.sh), and its floor.
//
// benchrefresh refresh measures refresh with rotation as a client does it:
// each of -c workers logs in once (POST /api/token/), then refreshes with
// the refresh token it was just handed (POST /api/token/refresh/), so that
// every request really rotates. The refreshes are written and read by hand
// over one kept-alive connection per worker, so that the load generator,
// which shares the cores with latch, costs little (as wrk does in the other
// scenarios). It prints one line:
//
//	REFRESH c=8 requests=41230 secs=5.00 rps=8246.0 errors=0
//
// benchrefresh insert measures the floor: single-row INSERTs (autocommit,
// a row shaped like a refresh token's) by -c workers, through latch's own
// stores, so with the same driver, connection settings and durability as
// `latch serve`: -sqlite PATH opens a scratch file with sqlite.Open (WAL,
// synchronous=NORMAL, the one writer connection); -postgres URL opens a
// scratch schema with postgres.OpenSchema (pgxpool settings from the URL).
// It prints:
//
//	INSERT c=8 requests=101000 secs=5.00 rps=20200.0 errors=0
//
// Usage:
//
//	benchrefresh refresh -url URL -user NAME (password in BENCH_PASSWORD) [-c 8] [-d 5s]
//	benchrefresh insert (-sqlite PATH | -postgres URL [-schema NAME]) [-c 8] [-d 5s]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/latch-auth/latch/postgres"
	"github.com/latch-auth/latch/sqlite"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchrefresh refresh|insert [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "refresh":
		err = runRefresh(ctx, args)
	case "insert":
		err = runInsert(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrefresh:", err)
		os.Exit(1)
	}
}

// result is what a measurement prints.
type result struct {
	requests, errors atomic.Int64
}

func (r *result) print(kind string, c int, d time.Duration) {
	n := r.requests.Load()
	fmt.Printf("%s c=%d requests=%d secs=%.2f rps=%.1f errors=%d\n", kind, c, n, d.Seconds(), float64(n)/d.Seconds(), r.errors.Load())
}

// measure runs work in c goroutines until d has passed, after each ready
// once (a login), and returns how long the measurement ran.
func measure(ctx context.Context, c int, d time.Duration, ready func(ctx context.Context, i int) error, work func(ctx context.Context, i int) error, res *result) (time.Duration, error) {
	errs := make([]error, c)
	var wg sync.WaitGroup
	for i := range c {
		wg.Go(func() { errs[i] = ready(ctx, i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for i := range c {
		wg.Go(func() {
			for runCtx.Err() == nil {
				if err := work(runCtx, i); err != nil {
					if runCtx.Err() != nil {
						return // cut off by the end of the measurement
					}
					if res.errors.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "benchrefresh:", err)
					}
					continue
				}
				res.requests.Add(1)
			}
		})
	}
	wg.Wait()
	return time.Since(start), nil
}

func runRefresh(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("refresh", flag.ExitOnError)
	base := fs.String("url", "", "latch's base URL")
	user := fs.String("user", "alice", "username (password in BENCH_PASSWORD)")
	c := fs.Int("c", 8, "workers, each with its own session")
	d := fs.Duration("d", 5*time.Second, "duration of the measurement")
	fs.Parse(args)
	if *base == "" || *c < 1 {
		return errors.New("refresh: -url and -c >= 1 are required")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c}, Timeout: 30 * time.Second}
	password := os.Getenv("BENCH_PASSWORD")
	tokens := make([]string, *c)
	var res result
	login := func(ctx context.Context, i int) error {
		form := url.Values{"username": {*user}, "password": {password}}
		for {
			// The hashing pool answers 503 when full: c logins at once
			// take turns.
			body, status, err := post(ctx, client, *base+"/api/token/", "application/x-www-form-urlencoded", form.Encode())
			if err != nil {
				return err
			}
			if status == http.StatusServiceUnavailable {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if status != http.StatusOK {
				return fmt.Errorf("login: %d %s", status, body)
			}
			tokens[i], err = refreshOf(body)
			return err
		}
	}
	// The refreshes go over one kept-alive connection per worker, written
	// and read by hand: the load generator shares the machine's cores with
	// latch, and net/http's client costs about as much CPU per request as
	// the server (wrk plays this part in the other scenarios).
	u, err := url.Parse(*base)
	if err != nil {
		return err
	}
	conns := make([]*rawConn, *c)
	defer func() {
		for _, rc := range conns {
			if rc != nil {
				rc.close()
			}
		}
	}()
	refresh := func(ctx context.Context, i int) error {
		if conns[i] == nil {
			rc, err := dialRaw(ctx, u.Host)
			if err != nil {
				return err
			}
			conns[i] = rc
		}
		body, status, err := conns[i].post(u.Host, u.Path+"/api/token/refresh/", `{"refresh":"`+tokens[i]+`"}`)
		if err != nil {
			conns[i].close()
			conns[i] = nil
			return err
		}
		if status != http.StatusOK {
			// The chain is broken (it must not be): start a new one.
			if err := login(ctx, i); err != nil {
				return err
			}
			return fmt.Errorf("refresh: %d %s", status, body)
		}
		next, err := refreshOf(body)
		if err != nil {
			return err
		}
		tokens[i] = next
		return nil
	}
	took, err := measure(ctx, *c, *d, login, refresh, &res)
	if err != nil {
		return err
	}
	res.print("REFRESH", *c, took)
	return nil
}

// rawConn is a kept-alive HTTP/1.1 connection that posts JSON and reads
// answers with a Content-Length, which is all latch sends here.
type rawConn struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte
	body []byte
}

func dialRaw(ctx context.Context, host string) (*rawConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return &rawConn{conn: conn, r: bufio.NewReaderSize(conn, 8192)}, nil
}

func (rc *rawConn) close() { rc.conn.Close() }

// post sends body to path and returns the answer's body and status.
func (rc *rawConn) post(host, path, body string) ([]byte, int, error) {
	rc.req = append(rc.req[:0], "POST "...)
	rc.req = append(rc.req, path...)
	rc.req = append(rc.req, " HTTP/1.1\r\nHost: "...)
	rc.req = append(rc.req, host...)
	rc.req = append(rc.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	rc.req = strconv.AppendInt(rc.req, int64(len(body)), 10)
	rc.req = append(rc.req, "\r\n\r\n"...)
	rc.req = append(rc.req, body...)
	rc.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := rc.conn.Write(rc.req); err != nil {
		return nil, 0, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return nil, 0, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, 0, fmt.Errorf("bad status line %q", line)
	}
	length, closing := -1, false
	for {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return nil, 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return nil, 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closing = true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return nil, 0, fmt.Errorf("unexpected Transfer-Encoding %q", value)
		}
	}
	if length < 0 {
		return nil, 0, errors.New("answer without Content-Length")
	}
	if cap(rc.body) < length {
		rc.body = make([]byte, length)
	}
	rc.body = rc.body[:length]
	if _, err := io.ReadFull(rc.r, rc.body); err != nil {
		return nil, 0, err
	}
	if closing {
		return rc.body, status, errors.New("server closed the connection")
	}
	return rc.body, status, nil
}

func post(ctx context.Context, client *http.Client, u, contentType, body string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

func refreshOf(body []byte) (string, error) {
	// latch's answer is {"access":"…","refresh":"…"}: tokens need no
	// unescaping, so a scan finds it without decoding the JSON.
	const key = `"refresh":"`
	if i := bytes.Index(body, []byte(key)); i >= 0 {
		rest := body[i+len(key):]
		if j := bytes.IndexByte(rest, '"'); j > 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
			return string(rest[:j]), nil
		}
	}
	var p struct {
		Refresh string `json:"refresh"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Refresh == "" {
		return "", fmt.Errorf("no refresh token in %q", bytes.TrimSpace(body))
	}
	return p.Refresh, nil
}

// execer is what an INSERT needs of either database.
type execer func(ctx context.Context, hash, session string, issued, expires int64) error

func runInsert(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("insert", flag.ExitOnError)
	sqlitePath := fs.String("sqlite", "", "scratch SQLite file (created)")
	pgURL := fs.String("postgres", "", "PostgreSQL URL")
	schema := fs.String("schema", "", "scratch schema (default: benchrefresh_<pid>)")
	c := fs.Int("c", 8, "workers")
	d := fs.Duration("d", 5*time.Second, "duration of the measurement")
	fs.Parse(args)
	var exec execer
	switch {
	case *sqlitePath != "" && *pgURL == "":
		db, err := sqlite.Open(ctx, *sqlitePath)
		if err != nil {
			return err
		}
		defer db.Close()
		w := db.SQL() // latch's writer connection
		if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_insert (hash TEXT PRIMARY KEY, session_id TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		stmt, err := w.PrepareContext(ctx, `INSERT INTO bench_insert (hash, session_id, issued_at, expires_at) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		exec = func(ctx context.Context, hash, session string, issued, expires int64) error {
			_, err := stmt.ExecContext(ctx, hash, session, issued, expires)
			return err
		}
	case *pgURL != "" && *sqlitePath == "":
		if *schema == "" {
			*schema = fmt.Sprintf("benchrefresh_%d", os.Getpid())
		}
		db, err := postgres.OpenSchema(ctx, *pgURL, *schema)
		if err != nil {
			return err
		}
		defer db.Close()
		pool := db.Pool() // latch's pool settings
		if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_insert (hash TEXT PRIMARY KEY, session_id TEXT NOT NULL, issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)`); err != nil {
			return err
		}
		exec = func(ctx context.Context, hash, session string, issued, expires int64) error {
			_, err := pool.Exec(ctx, `INSERT INTO bench_insert (hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)`, hash, session, issued, expires)
			return err
		}
	default:
		return errors.New("insert: one of -sqlite and -postgres is required")
	}
	var res result
	none := func(context.Context, int) error { return nil }
	insert := func(ctx context.Context, i int) error {
		var b [32]byte
		rand.Read(b[:])
		now := time.Now().UnixMicro()
		return exec(ctx, hex.EncodeToString(b[:]), fmt.Sprintf("session-%d", i), now, now+int64(time.Hour/time.Microsecond))
	}
	took, err := measure(ctx, *c, *d, none, insert, &res)
	if err != nil {
		return err
	}
	res.print("INSERT", *c, took)
	return nil
}
