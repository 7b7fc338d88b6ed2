package latch_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the layering of DESIGN.md: the domain
// packages never reach for HTTP, Redis or SQL, and the root package uses
// only the standard library.
func TestDependencyDirection(t *testing.T) {
	forbidden := []string{"net/http", "database/sql", "github.com/redis/", "github.com/jackc/", "modernc.org/sqlite"}
	for _, pkg := range []string{"./token", "./auth", "./password", "./revocation", "./ratelimit"} {
		for _, dep := range deps(t, pkg) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
	for _, dep := range deps(t, ".") {
		if strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") && dep != "github.com/latch-auth/latch" {
			t.Errorf("the root package depends on %s; it must use the standard library only", dep)
		}
	}
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
