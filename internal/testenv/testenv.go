// Package testenv is how latch's tests meet the services of
// scripts/testenv.sh (Redis, PostgreSQL, Debian's Python packages): a test
// whose service is missing skips on a developer's machine and fails in
// CI, where integration tests must run rather than pass by skipping.
package testenv

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// CI reports whether the tests run in CI: CI set to a true value
// (strconv.ParseBool), as CI systems set it.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Missing ends tb because something it needs is missing: Skip, or Fatal
// under CI.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		tb.Fatalf("%s (CI is set, so this fails rather than skips; scripts/testenv.sh installs and starts what the tests need)", msg)
	}
	tb.Skip(msg)
}

// Getenv returns the variable name, which scripts/testenv.sh sets; unset,
// it calls Missing.
func Getenv(tb testing.TB, name string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(tb, "%s is not set: run the tests through scripts/testenv.sh", name)
	}
	return v
}
