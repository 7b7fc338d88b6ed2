package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/latch-auth/latch"
)

// ownRedis is a redis-server of one test, which it may stop, pause and
// start again on the same port.
type ownRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not installed (CI=true)")
		}
		t.Skip("redis-server not installed; run the tests through scripts/testenv.sh")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ownRedis{t: t, port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			c.Close()
			return
		}
	}
	r.t.Fatal("redis-server did not start")
}

// stop kills the server (by the pid this test started).
func (r *ownRedis) stop() {
	if r.cmd != nil {
		r.cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func (r *ownRedis) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// TestBreaker: with Redis gone (killed) or hung (paused: connections are
// accepted, nothing answers), commands fail as latch.ErrUnavailable, and
// after a few failures at once, without trying Redis; once Redis is back,
// the client recovers by itself.
func TestBreaker(t *testing.T) {
	tests := []struct {
		name       string
		fail, heal func(r *ownRedis)
		// firstWithin bounds each of the failures before the breaker
		// opens: a hung Redis costs a read timeout, and the retry another.
		firstWithin time.Duration
	}{
		{"killed", (*ownRedis).stop, (*ownRedis).start, 50 * time.Millisecond},
		{"paused", func(r *ownRedis) { r.signal(syscall.SIGSTOP) }, func(r *ownRedis) { r.signal(syscall.SIGCONT) }, 2*ioTimeout + 150*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startOwnRedis(t)
			ctx := context.Background()
			c, err := Open(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", r.port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			tt.fail(r)
			opened := false
			for i := range breakerThreshold + 20 {
				start := time.Now()
				err := c.Get(ctx, "k").Err()
				took := time.Since(start)
				if !errors.Is(err, latch.ErrUnavailable) {
					t.Fatalf("command %d with Redis %s: err %v, want latch.ErrUnavailable", i, tt.name, err)
				}
				if errors.Is(err, ErrCircuitOpen) {
					opened = true
					if took > 5*time.Millisecond {
						t.Errorf("command %d refused by the open breaker took %v, want under 5ms", i, took)
					}
				} else if opened {
					t.Errorf("command %d tried Redis again (%v) within the cooldown", i, err)
				} else if took > tt.firstWithin {
					t.Errorf("command %d took %v, want under %v", i, took, tt.firstWithin)
				}
			}
			if !opened {
				t.Fatalf("the breaker never opened after %d failures", breakerThreshold+20)
			}
			tt.heal(r)
			start := time.Now()
			for {
				err := c.Get(ctx, "k").Err()
				if err == nil || !errors.Is(err, latch.ErrUnavailable) {
					break // redis.Nil after a restart (empty), "v" after a pause
				}
				if time.Since(start) > 5*time.Second {
					t.Fatalf("not recovered %v after Redis came back: %v", time.Since(start), err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("recovered %v after Redis came back", time.Since(start).Round(time.Millisecond))
		})
	}
}
