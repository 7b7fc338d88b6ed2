package password

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// lowerPriority gives the calling thread (and the processes and threads it
// creates, which inherit it) the lowest priority: SCHED_IDLE, which runs
// only on CPU time nothing else wants, and nice 19 where SCHED_IDLE is
// refused. Unlike nice 19 alone, the kernel counts a CPU running only
// SCHED_IDLE work as idle when it places a waking thread, so request
// handling gets the CPU at once. Failure only costs the priority, never
// the hash.
func lowerPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
	_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
}
