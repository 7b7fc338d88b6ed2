//go:build !linux

package password

// lowerPriority is a no-op where latch does not know how to lower a
// thread's priority.
func lowerPriority() {}
