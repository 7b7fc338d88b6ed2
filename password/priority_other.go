//go:build !linux

package password

// lowerPriority is a no-op where thread priorities are not per thread.
func lowerPriority() {}
