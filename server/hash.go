package server

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
)

// hashWorkers is how many passwords are hashed at once at most.
func hashWorkers(cfg Config) int {
	if cfg.HashWorkers > 0 {
		return cfg.HashWorkers
	}
	// Every core; adaptHashing gives one back while authenticated
	// requests need it.
	return runtime.GOMAXPROCS(0)
}

// Adaptive hashing: with HashWorkers unset the pool hashes on every core
// while authenticated traffic is light and leaves one core to requests as
// soon as it is not. A login flood alone then completes as many logins as
// the machine can hash, and under authenticated load argon2 (CPU- and
// memory-bound) cannot take the core that keeps their latency.
const (
	hashAdaptEvery = 100 * time.Millisecond
	// hashBusyRequests per hashAdaptEvery make traffic "not light": 100/s.
	hashBusyRequests = 10
	// hashQuietTicks without busy traffic before the core goes back to
	// hashing: a pause between bursts is not the end of the load.
	hashQuietTicks = 10
)

// adaptHashing resizes pool between max−1 and max workers from the rate
// of authenticated requests, until ctx ends.
func adaptHashing(ctx context.Context, pool *password.Pool, max int, authenticated func() uint64) {
	t := time.NewTicker(hashAdaptEvery)
	defer t.Stop()
	last, quiet := authenticated(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := authenticated()
		busy := n-last >= hashBusyRequests
		last = n
		switch {
		case busy:
			quiet = 0
			pool.SetWorkers(max - 1)
		case quiet < hashQuietTicks:
			quiet++
		default:
			pool.SetWorkers(max)
		}
	}
}

// HasherParams are the argon2id parameters of cfg.
func HasherParams(cfg Config) password.Params {
	return password.Params{Memory: uint32(cfg.Argon2Memory), Iterations: uint32(cfg.Argon2Iterations)}
}

// HashWorkers is how many passwords cfg hashes at once.
func HashWorkers(cfg Config) int { return hashWorkers(cfg) }

// newHasher hashes in this process or, with Config.HashProcess, in a child
// process of the running executable doing workers jobs at once.
func (s *Server) newHasher(workers int) (auth.PasswordHasher, error) {
	cfg := s.cfg
	hasher, err := password.NewHasher(HasherParams(cfg))
	if err != nil || cfg.HashProcess == nil {
		return hasher, err
	}
	args := append(append([]string{}, cfg.HashProcess...),
		"--hash-workers", strconv.Itoa(workers),
		"--argon2-memory", strconv.Itoa(cfg.Argon2Memory),
		"--argon2-iterations", strconv.Itoa(cfg.Argon2Iterations))
	proc, err := password.StartProcess(password.ProcessConfig{
		Args: args,
		// As many threads as jobs: the worker's Go runtime then never
		// runs more hashing at once than it was given.
		Env:    append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(workers)),
		Stderr: os.Stderr,
	})
	if err != nil {
		cfg.Logger.Warn("hashing passwords in this process instead", "err", err)
		return hasher, nil
	}
	s.closers = append(s.closers, proc.Close)
	s.hashProcess = proc
	cfg.Logger.Info("hashing passwords in a separate process", "pid", proc.Pid())
	return proc, nil
}
