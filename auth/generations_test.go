package auth

import "testing"

// delete forgets a key in either generation: a forgotten user must not come
// back from the previous one.
func TestGenerationsDeleteReachesThePreviousGeneration(t *testing.T) {
	const bound = 10
	g := newGenerations[int, string](bound)
	g.put(-1, "forget me")
	for i := range bound / 2 {
		g.put(i, "newer") // turns the generation: -1 is in the previous one now
	}
	if v, ok := g.gen.Load().old.Load(-1); !ok || v != "forget me" {
		t.Fatalf("the key is not in the previous generation (%v, %v): the test no longer tests that", v, ok)
	}
	g.delete(-1)
	if v, ok := g.get(-1); ok {
		t.Errorf("get after delete = %q, want nothing", v)
	}
}
