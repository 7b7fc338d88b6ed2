package password

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrProcess reports that a [Process] could not get an answer from its
// hashing process: it failed to start, exited, or took longer than
// [ProcessConfig.Timeout]. The job's password was neither verified nor
// hashed; a later call starts a new process.
var ErrProcess = errors.New("password: hashing process failed")

// ProcessConfig says how a [Process] starts its hashing process.
type ProcessConfig struct {
	// Path and Args run the worker: a program that calls [ServeProcess] on
	// its standard input and output with a [Hasher] of the wanted Params
	// (latch runs itself as "latch hash-worker"). Args excludes the
	// program name. Path "" means the running executable.
	Path string
	Args []string
	// Env is the worker's environment; nil means this process's.
	Env []string
	// Stderr receives the worker's standard error; nil discards it.
	Stderr io.Writer
	// Timeout bounds the wait for one job, which then fails with
	// ErrProcess. A worker that answered nothing at all for that long is
	// taken for hung and killed (every job it holds fails, the next call
	// starts another); one that is answering, only slowly (starved of CPU
	// time at its low priority), keeps running. Zero means 30 s.
	Timeout time.Duration

	keepPriority bool // tests: the worker at normal priority, for timing
}

// Process runs hashing in a separate operating-system process at a low
// scheduling priority (SCHED_IDLE on Linux), through the same methods as
// [Hasher]. argon2id allocates its memory (19 MiB by default) on every
// hash; in the server's own process that garbage makes the Go collector
// run once per hash and stop the world, pausing every request. In a child
// process the collector, the memory and the CPU time of hashing stay apart
// from request handling, so authenticated requests keep their latency
// under a login flood.
//
// Callers bound concurrency themselves (with a [Pool]); a Process sends
// each job to the worker at once. It is safe for concurrent use.
type Process struct {
	cfg ProcessConfig

	mu     sync.Mutex
	child  *child // nil until started, and after it ends
	nextID uint64
	closed bool
}

// StartProcess starts the hashing process of cfg and returns once it runs.
func StartProcess(cfg ProcessConfig) (*Process, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Path == "" && runtime.GOOS == "linux" {
		// The running binary itself, even if its file was replaced since
		// (an upgrade): a worker must speak this version's protocol.
		cfg.Path = "/proc/self/exe"
	}
	if cfg.Path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProcess, err)
		}
		cfg.Path = exe
	}
	p := &Process{cfg: cfg}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Hash is [Hasher.Hash] in the hashing process.
func (p *Process) Hash(password string) (string, error) {
	r, err := p.call(opHash, password, "")
	if err != nil {
		return "", err
	}
	return r.text, r.err
}

// Verify is [Hasher.Verify] in the hashing process. Besides Verify's
// errors, err may wrap [ErrProcess]; ok is then false.
func (p *Process) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	r, err := p.call(opVerify, password, encoded)
	if err != nil {
		return false, false, err
	}
	return r.ok, r.rehash, r.err
}

// Dummy is [Hasher.Dummy] in the hashing process.
func (p *Process) Dummy(password string) error {
	_, err := p.call(opDummy, password, "")
	return err
}

// Pid is the process id of the running worker, or 0 while none runs (the
// next call starts one).
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.child == nil {
		return 0
	}
	return p.child.cmd.Process.Pid
}

// Close ends the hashing process: it finishes the jobs it holds, then
// exits. Calls after Close fail with ErrProcess.
func (p *Process) Close() error {
	p.mu.Lock()
	p.closed = true
	c := p.child
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	c.stdin.Close() // the worker exits at the end of its input
	select {
	case <-c.done:
	case <-time.After(p.cfg.Timeout):
		c.cmd.Process.Kill()
		<-c.done
	}
	return nil
}

// child is one run of the hashing process.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	writeMu sync.Mutex // one frame at a time on stdin
	pending map[uint64]chan response
	// lastAnswer is when the worker last answered (or started), in
	// UnixNano: a worker silent for a whole Timeout is hung.
	lastAnswer atomic.Int64
	done       chan struct{} // closed once the process has exited and pending is failed
	err        error         // why it ended; read after done
}

func (p *Process) call(op byte, password, encoded string) (response, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return response{}, fmt.Errorf("%w: closed", ErrProcess)
	}
	c := p.child
	if c == nil {
		var err error
		if c, err = p.start(); err != nil {
			p.mu.Unlock()
			return response{}, err
		}
	}
	p.nextID++
	id := p.nextID
	answer := make(chan response, 1)
	c.pending[id] = answer
	p.mu.Unlock()

	c.writeMu.Lock()
	err := writeRequest(c.stdin, request{id: id, op: op, password: password, encoded: encoded})
	c.writeMu.Unlock()
	if err != nil {
		c.cmd.Process.Kill() // a broken pipe: the reader fails every job
	}
	timer := time.NewTimer(p.cfg.Timeout)
	defer timer.Stop()
	select {
	case r := <-answer:
		return r, nil
	case <-c.done:
		select { // answered just before the end
		case r := <-answer:
			return r, nil
		default:
		}
		return response{}, fmt.Errorf("%w: %w", ErrProcess, c.err)
	case <-timer.C:
		p.mu.Lock()
		delete(c.pending, id) // a late answer is dropped
		p.mu.Unlock()
		if time.Since(time.Unix(0, c.lastAnswer.Load())) >= p.cfg.Timeout {
			c.cmd.Process.Kill()
		}
		return response{}, fmt.Errorf("%w: no answer within %v", ErrProcess, p.cfg.Timeout)
	}
}

// start starts a hashing process; p.mu is held.
func (p *Process) start() (*child, error) {
	cmd := exec.Command(p.cfg.Path, p.cfg.Args...)
	if p.cfg.Path == "/proc/self/exe" && len(os.Args) > 0 {
		cmd.Args[0] = os.Args[0] // what ps shows
	}
	cmd.Env = p.cfg.Env
	cmd.Stderr = p.cfg.Stderr
	ownProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProcess, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProcess, err)
	}
	start := startLowPriority
	if p.cfg.keepPriority {
		start = (*exec.Cmd).Start
	}
	if err := start(cmd); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrProcess, p.cfg.Path, err)
	}
	c := &child{cmd: cmd, stdin: stdin, pending: make(map[uint64]chan response), done: make(chan struct{})}
	c.lastAnswer.Store(time.Now().UnixNano())
	p.child = c
	go p.read(c, stdout)
	return c, nil
}

// startLowPriority starts cmd from a thread whose priority is lowered
// first: the process inherits the priority, and so do all of its threads.
func startLowPriority(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, with its lowered priority, ends with
		// this goroutine instead of running other goroutines.
		runtime.LockOSThread()
		lowerPriority()
		errc <- cmd.Start()
	}()
	return <-errc
}

// read hands the worker's answers to their callers until its output
// ends, then reaps it and fails the jobs left.
func (p *Process) read(c *child, stdout io.Reader) {
	br := bufio.NewReader(stdout)
	var readErr error
	for {
		r, err := readResponse(br)
		if err != nil {
			readErr = err
			break
		}
		c.lastAnswer.Store(time.Now().UnixNano())
		p.mu.Lock()
		answer, ok := c.pending[r.id]
		delete(c.pending, r.id)
		p.mu.Unlock()
		if ok {
			answer <- r
		}
	}
	c.cmd.Process.Kill() // output broken or ended: this run is over either way
	waitErr := c.cmd.Wait()
	p.mu.Lock()
	if p.child == c {
		p.child = nil
	}
	c.pending = nil
	p.mu.Unlock()
	switch {
	case waitErr != nil:
		c.err = fmt.Errorf("worker: %w", waitErr)
	case errors.Is(readErr, io.EOF):
		c.err = errors.New("worker exited")
	default:
		c.err = fmt.Errorf("worker output: %w", readErr)
	}
	close(c.done)
}

// ServeProcess is the worker side of a [Process]: it reads jobs from r,
// runs them with h on at most threads goroutines at once, and writes each
// answer to w as soon as it is ready. It returns nil when r ends, and the
// error otherwise, once the running jobs are answered.
func ServeProcess(r io.Reader, w io.Writer, h *Hasher, threads int) error {
	br := bufio.NewReader(r)
	var writeMu sync.Mutex
	slots := make(chan struct{}, max(threads, 1))
	var wg sync.WaitGroup
	var writeErr error
	for {
		req, err := readRequest(br)
		if err != nil {
			wg.Wait()
			if errors.Is(err, io.EOF) {
				return writeErr
			}
			return err
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := run1(h, req)
			<-slots
			writeMu.Lock()
			defer writeMu.Unlock()
			if writeErr == nil {
				writeErr = writeResponse(w, resp)
			}
		}()
	}
}

// run1 does one job.
func run1(h *Hasher, req request) response {
	resp := response{id: req.id}
	var err error
	switch req.op {
	case opHash:
		resp.text, err = h.Hash(req.password)
	case opVerify:
		resp.ok, resp.rehash, err = h.Verify(req.encoded, req.password)
	case opDummy:
		err = h.Dummy(req.password)
	default:
		err = fmt.Errorf("password: unknown job %d", req.op)
	}
	if err != nil {
		resp.err = err
	}
	return resp
}
