package password

import "syscall"

// lowerPriority sets the calling thread's nice value to 19 (Linux nice
// applies per thread). Failure only costs the priority, never the hash.
func lowerPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
