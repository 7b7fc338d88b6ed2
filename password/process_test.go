package password

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// workerEnv makes the test binary act as a hashing worker (see TestMain):
// "serve" runs ServeProcess with testParams, "silent" reads its input and
// never answers, "picky" answers every job at once with the hash
// "answered", except those whose password is "never".
const workerEnv = "LATCH_PASSWORD_TEST_WORKER"

func TestMain(m *testing.M) {
	switch os.Getenv(workerEnv) {
	case "serve":
		h, err := NewHasher(testParams)
		if err == nil {
			err = ServeProcess(os.Stdin, os.Stdout, h, 2)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "silent":
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "picky":
		in := bufio.NewReader(os.Stdin)
		for {
			req, err := readRequest(in)
			if err != nil {
				os.Exit(0)
			}
			if req.password != "never" {
				writeResponse(os.Stdout, response{id: req.id, text: "answered"})
			}
		}
	}
	os.Exit(m.Run())
}

// startWorker starts the test binary as a worker in mode.
func startWorker(t *testing.T, mode string, timeout time.Duration) *Process {
	t.Helper()
	return startWorkerConfig(t, mode, ProcessConfig{Timeout: timeout})
}

// startWorkerConfig starts the test binary as a worker in mode with cfg.
func startWorkerConfig(t *testing.T, mode string, cfg ProcessConfig) *Process {
	t.Helper()
	cfg.Args = []string{"-test.run=^$"}
	cfg.Env = append(os.Environ(), workerEnv+"="+mode)
	cfg.Stderr = os.Stderr
	p, err := StartProcess(cfg)
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProcessMatchesHasher(t *testing.T) {
	p := startWorker(t, "serve", 0)
	h := mustHasher(t, testParams)
	other := mustHasher(t, Params{Memory: 128, Iterations: 1})

	encoded, err := p.Hash("s3cret pass")
	if err != nil {
		t.Fatalf("Process.Hash: %v", err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("Process.Hash = %q, want an argon2id hash with the worker's parameters", encoded)
	}
	if ok, _, err := h.Verify(encoded, "s3cret pass"); !ok || err != nil {
		t.Fatalf("the worker's hash does not verify in process: %v, %v", ok, err)
	}

	tests := []struct {
		name              string
		encoded, password string
		ok, rehash        bool
		err               error
	}{
		{"own hash", mustHash(t, h, "pw one"), "pw one", true, false, nil},
		{"wrong password", mustHash(t, h, "pw one"), "pw two", false, false, nil},
		{"other parameters", mustHash(t, other, "pw one"), "pw one", true, true, nil},
		{"unusable", "!unusable", "pw", false, false, nil},
		{"empty password and hash", "", "", false, false, nil},
		{"unknown scheme", "md5$salt$abc", "pw", false, false, ErrUnknownScheme},
		{"malformed", "$argon2id$v=19$m=x$salt$hash", "pw", false, false, ErrMalformed},
		{"binary password", mustHash(t, h, "\x00\xff\n"), "\x00\xff\n", true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := p.Verify(tt.encoded, tt.password)
			if ok != tt.ok || rehash != tt.rehash || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Process.Verify = %v, %v, %v; want %v, %v, %v", ok, rehash, err, tt.ok, tt.rehash, tt.err)
			}
			wantOK, wantRehash, wantErr := h.Verify(tt.encoded, tt.password)
			if ok != wantOK || rehash != wantRehash || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("Process.Verify = %v, %v, %v; Hasher.Verify = %v, %v, %v", ok, rehash, err, wantOK, wantRehash, wantErr)
			}
		})
	}
	if err := p.Dummy("whatever"); err != nil {
		t.Fatalf("Process.Dummy: %v", err)
	}
}

func TestProcessConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	p := startWorker(t, "serve", 0)
	h := mustHasher(t, testParams)
	hashes := make([]string, 8)
	for i := range hashes {
		hashes[i] = mustHash(t, h, "password "+strconv.Itoa(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				k := (g + i) % len(hashes)
				right := (g+i)%3 != 0
				pw := "password " + strconv.Itoa(k)
				if !right {
					pw = "wrong " + strconv.Itoa(k)
				}
				ok, _, err := p.Verify(hashes[k], pw)
				if err != nil || ok != right {
					errs <- fmt.Errorf("Verify(hash %d, %q) = %v, %v; want %v", k, pw, ok, err, right)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestProcessRestartsAfterTheWorkerDies(t *testing.T) {
	p := startWorker(t, "serve", 0)
	first := p.current()
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.done
	if first.err == nil {
		t.Fatal("no reason recorded for the worker's end")
	}
	encoded, err := p.Hash("after a restart")
	if err != nil {
		t.Fatalf("Hash after the worker died: %v", err)
	}
	if p.current() == first {
		t.Fatal("the dead worker is still in use")
	}
	if ok, _, err := p.Verify(encoded, "after a restart"); !ok || err != nil {
		t.Fatalf("Verify after a restart = %v, %v", ok, err)
	}
}

func TestProcessJobFailsWhenTheWorkerDies(t *testing.T) {
	p := startWorker(t, "silent", time.Minute)
	c := p.current()
	errc := make(chan error, 1)
	go func() { _, err := p.Hash("pw"); errc <- err }()
	// The job is pending once the worker holds it; then the worker dies.
	waitFor(t, func() bool { return p.pendingJobs(c) == 1 })
	c.cmd.Process.Kill()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrProcess) {
			t.Fatalf("Hash while the worker died: %v, want ErrProcess", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Hash still waiting after the worker died")
	}
}

func TestProcessTimeoutKillsTheWorker(t *testing.T) {
	p := startWorker(t, "silent", 100*time.Millisecond)
	c := p.current()
	start := time.Now()
	ok, _, err := p.Verify("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "pw")
	if ok || !errors.Is(err, ErrProcess) {
		t.Fatalf("Verify with a worker that never answers = %v, %v; want ErrProcess", ok, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Verify took %v with a 100ms timeout", d)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the silent worker was not killed")
	}
}

// A job that times out fails, but a worker that keeps answering other jobs
// is only slow (starved of CPU at its low priority), not hung: it is not
// killed, and a late answer is dropped.
func TestProcessTimeoutSparesAnAnsweringWorker(t *testing.T) {
	// Normal priority: under CI's load an idle-priority worker may not run
	// for the whole timeout, and this test is about the answers it gives.
	p := startWorkerConfig(t, "picky", ProcessConfig{Timeout: 2 * time.Second, keepPriority: true})
	pid := p.Pid()
	errc := make(chan error, 1)
	go func() { _, err := p.Hash("never"); errc <- err }()
	for {
		select {
		case err := <-errc:
			if !errors.Is(err, ErrProcess) {
				t.Fatalf("the unanswered job: %v, want ErrProcess", err)
			}
			if got := p.Pid(); got != pid {
				t.Fatalf("the worker was replaced (pid %d, then %d) though it kept answering", pid, got)
			}
			if got, err := p.Hash("after"); got != "answered" || err != nil {
				t.Fatalf("Hash after the timeout = %q, %v", got, err)
			}
			if n := p.pendingJobs(p.current()); n != 0 {
				t.Fatalf("%d jobs still pending", n)
			}
			return
		default:
		}
		if got, err := p.Hash("now"); got != "answered" || err != nil {
			t.Fatalf("Hash while another job waits = %q, %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProcessClose(t *testing.T) {
	p := startWorker(t, "serve", 0)
	c := p.current()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("Close returned before the worker exited")
	}
	if _, err := p.Hash("pw"); !errors.Is(err, ErrProcess) {
		t.Fatalf("Hash after Close: %v, want ErrProcess", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStartProcessFails(t *testing.T) {
	_, err := StartProcess(ProcessConfig{Path: t.TempDir() + "/no such program"})
	if !errors.Is(err, ErrProcess) {
		t.Fatalf("StartProcess of a missing program: %v, want ErrProcess", err)
	}
}

// The worker runs at the lowest priority so that request handling never
// waits for hashing: SCHED_IDLE (policy 5) or, failing that, nice 19.
func TestProcessRunsAtLowPriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("priorities are lowered on Linux only")
	}
	p := startWorker(t, "serve", 0)
	if _, err := p.Hash("pw"); err != nil { // the worker's threads exist by now
		t.Fatal(err)
	}
	pid := p.current().cmd.Process.Pid
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		// Fields after the command name: state is field 3; nice 19, policy 41.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		nice, policy := fields[19-3], fields[41-3]
		if policy != "5" && nice != "19" {
			t.Errorf("worker thread %s: policy %s, nice %s; want SCHED_IDLE (5) or nice 19", task.Name(), policy, nice)
		}
	}
	// The server's own threads keep their priority.
	self, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(self[bytes.LastIndexByte(self, ')')+2:]))
	if fields[41-3] == "5" || fields[19-3] == "19" {
		t.Errorf("the calling thread's priority was lowered too: policy %s, nice %s", fields[41-3], fields[19-3])
	}
}

func TestServeProcessAnswersUntilItsInputEnds(t *testing.T) {
	h := mustHasher(t, testParams)
	encoded := mustHash(t, h, "pw")
	var in bytes.Buffer
	for i := range 5 {
		if err := writeRequest(&in, request{id: uint64(i + 1), op: opVerify, password: "pw", encoded: encoded}); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeRequest(&in, request{id: 9, op: 42}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ServeProcess(&in, &out, h, 3); err != nil {
		t.Fatalf("ServeProcess: %v", err)
	}
	br := bufio.NewReader(&out)
	seen := map[uint64]response{}
	for {
		r, err := readResponse(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[r.id] = r
	}
	if len(seen) != 6 {
		t.Fatalf("%d answers, want 6", len(seen))
	}
	for id := uint64(1); id <= 5; id++ {
		if r := seen[id]; !r.ok || r.err != nil {
			t.Errorf("answer %d: ok %v, err %v", id, r.ok, r.err)
		}
	}
	if r := seen[9]; r.err == nil || r.ok {
		t.Errorf("unknown job answered %+v, want an error", r)
	}
}

func TestServeProcessRejectsBrokenInput(t *testing.T) {
	for _, in := range []string{
		"\x00\x00",                 // truncated length
		"\x00\x00\x00\x05abc",      // truncated frame
		"\xff\xff\xff\xff",         // too long
		"\x00\x00\x00\x02\x00\x01", // too short for its fields
	} {
		var out bytes.Buffer
		err := ServeProcess(strings.NewReader(in), &out, mustHasher(t, testParams), 1)
		if !errors.Is(err, errFrame) {
			t.Errorf("ServeProcess(%q) = %v, want errFrame", in, err)
		}
	}
}

// current is the running worker (test helper).
func (p *Process) current() *child {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.child
}

// pendingJobs is how many jobs c holds (test helper).
func (p *Process) pendingJobs(c *child) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(c.pending)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
