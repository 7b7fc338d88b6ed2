package server

import (
	"os"
	"runtime"
	"strconv"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/password"
)

// hashWorkers is how many passwords are hashed at once.
func hashWorkers(cfg Config) int {
	if cfg.HashWorkers > 0 {
		return cfg.HashWorkers
	}
	// Leave a core to everything else: argon2 is CPU- and memory-bound,
	// and a login flood must not starve authenticated requests.
	return max(1, runtime.GOMAXPROCS(0)-1)
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
