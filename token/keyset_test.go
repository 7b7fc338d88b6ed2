package token_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/token"
)

func fileMode(tb testing.TB, path string) fs.FileMode {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestKeySetSaveLoad(t *testing.T) {
	pub, err := token.ParsePublicKeyPEM("RS256", readFixture(t, "rsa2048-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	set := &token.KeySet{
		Signing:      mustHMAC(t, "HS256", djangoSecret),
		Verification: []*token.Key{mustGenerate(t, "ES256"), mustGenerate(t, "EdDSA"), pub, mustHMAC(t, "HS512", "old")},
	}
	set.Verification[0].ID = "custom-kid" // a stored kid survives the round trip
	path := filepath.Join(t.TempDir(), "data", "keys.json")
	if err := set.Save(path); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if got := fileMode(t, path); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	if got := fileMode(t, filepath.Dir(path)); got != 0o700 {
		t.Errorf("key directory mode = %o, want 700", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (no temporary files)", len(entries))
	}

	got, err := token.LoadKeySet(path)
	if err != nil {
		t.Fatalf("LoadKeySet: %v", err)
	}
	want := append([]*token.Key{set.Signing}, set.Verification...)
	have := append([]*token.Key{got.Signing}, got.Verification...)
	if len(have) != len(want) {
		t.Fatalf("loaded %d keys, want %d", len(have), len(want))
	}
	for i := range want {
		if have[i].ID != want[i].ID || have[i].Algorithm != want[i].Algorithm || have[i].CanSign() != want[i].CanSign() {
			t.Errorf("key %d = %v (CanSign %v), want %v (CanSign %v)", i, have[i], have[i].CanSign(), want[i], want[i].CanSign())
		}
	}
	// Tokens signed before the round trip verify after it.
	for i, k := range want {
		if !k.CanSign() {
			continue
		}
		raw := mustSign(t, mustEngine(t, token.Options{SigningKey: k}), accessClaims())
		e := mustEngine(t, token.Options{SigningKey: got.Signing, VerificationKeys: got.Verification})
		if _, err := e.Parse(raw, token.Access); err != nil {
			t.Errorf("key %d: Parse after reload: %v", i, err)
		}
	}

	// Saving again replaces the file.
	if err := got.Rotate("HS256"); err != nil {
		t.Fatal(err)
	}
	if err := got.Save(path); err != nil {
		t.Fatalf("second Save: %v", err)
	}
	again, err := token.LoadKeySet(path)
	if err != nil || again.Signing.ID != got.Signing.ID {
		t.Errorf("after rotate+save, LoadKeySet = %v, %v; want signing kid %s", again, err, got.Signing.ID)
	}
}

func TestLoadKeySetErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := token.LoadKeySet(filepath.Join(dir, "absent.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadKeySet(absent) = %v, want fs.ErrNotExist", err)
	}
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ" // base64 of a secret
	tests := []struct{ name, content string }{
		{"not JSON", `{"version":1,"signing":{"secret":"` + secret + `"`},
		{"wrong version", `{"version":2,"signing":{"kid":"k","alg":"HS256","secret":"` + secret + `"}}`},
		{"no signing key", `{"version":1}`},
		{"bad algorithm", `{"version":1,"signing":{"kid":"k","alg":"HS1","secret":"` + secret + `"}}`},
		{"public signing key", `{"version":1,"signing":{"kid":"k","alg":"RS256","pem":` + jsonString(string(readFixture(t, "rsa2048-pub.pem"))) + `}}`},
		{"bad verification key", `{"version":1,"signing":{"kid":"k","alg":"HS256","secret":"` + secret + `"},"verification":[{"alg":"ES256","pem":"x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := token.LoadKeySet(path)
			if err == nil {
				t.Fatalf("LoadKeySet = %v, nil; want an error", s)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "secret-secret") {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}

func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func TestLoadOrCreateKeySet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	first, created, err := token.LoadOrCreateKeySet(path, "EdDSA")
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateKeySet = %v, %v; want a new set", created, err)
	}
	if first.Signing.Algorithm != "EdDSA" || !first.Signing.CanSign() {
		t.Errorf("signing key = %v, want an EdDSA signing key", first.Signing)
	}
	if got := fileMode(t, path); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	second, created, err := token.LoadOrCreateKeySet(path, "EdDSA")
	if err != nil || created {
		t.Fatalf("second LoadOrCreateKeySet = %v, %v; want the stored set", created, err)
	}
	if second.Signing.ID != first.Signing.ID {
		t.Errorf("second signing kid = %s, want the stored %s", second.Signing.ID, first.Signing.ID)
	}
	if _, _, err := token.LoadOrCreateKeySet(path, "HS256"); !errors.Is(err, token.ErrAlgorithmMismatch) {
		t.Errorf("LoadOrCreateKeySet with another algorithm = %v, want ErrAlgorithmMismatch", err)
	}
}

func TestKeySetRotate(t *testing.T) {
	for _, alg := range []string{"HS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			set := &token.KeySet{Signing: mustGenerate(t, alg)}
			old := set.Signing
			before := mustSign(t, mustEngine(t, token.Options{SigningKey: old}), accessClaims())
			if err := set.Rotate("EdDSA"); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if set.Signing.Algorithm != "EdDSA" || set.Signing.ID == old.ID {
				t.Errorf("new signing key = %v, want a fresh EdDSA key", set.Signing)
			}
			if len(set.Verification) != 1 || set.Verification[0].ID != old.ID {
				t.Fatalf("Verification = %v, want the old key %v", set.Verification, old)
			}
			if wantSign := strings.HasPrefix(alg, "HS"); set.Verification[0].CanSign() != wantSign {
				t.Errorf("retired key CanSign = %v, want %v (private halves are dropped)", set.Verification[0].CanSign(), wantSign)
			}
			e := mustEngine(t, token.Options{SigningKey: set.Signing, VerificationKeys: set.Verification})
			if _, err := e.Parse(before, token.Access); err != nil {
				t.Errorf("token signed before the rotation: %v", err)
			}
		})
	}
}

// A staged key is published (JWKS) from the first start that loads it and
// signs once that publication has lasted the delay; the server records
// both steps in the file.
func TestKeySetStagePublish(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	set := &token.KeySet{Signing: mustGenerate(t, "ES256")}
	current := set.Signing
	if err := set.Stage("EdDSA"); err != nil {
		t.Fatal(err)
	}
	next := set.Next
	if next == nil || next.Algorithm != "EdDSA" || !set.NextFrom.IsZero() || set.Signing != current {
		t.Fatalf("after Stage: signing %v, next %v from %v", set.Signing, set.Next, set.NextFrom)
	}
	reload := func() {
		t.Helper()
		if err := set.Save(path); err != nil {
			t.Fatal(err)
		}
		var err error
		if set, err = token.LoadKeySet(path); err != nil {
			t.Fatal(err)
		}
	}
	reload()
	if set.Next == nil || set.Next.ID != next.ID || !set.Next.CanSign() || !set.NextFrom.IsZero() {
		t.Fatalf("reloaded next %v from %v", set.Next, set.NextFrom)
	}
	const delay = 10 * time.Minute
	if !set.Publish(t0, delay) || !set.NextFrom.Equal(t0.Add(delay)) {
		t.Fatalf("first Publish: from %v, want %v", set.NextFrom, t0.Add(delay))
	}
	reload()
	if !set.NextFrom.Equal(t0.Add(delay)) {
		t.Fatalf("NextFrom after reload %v", set.NextFrom)
	}
	if set.Publish(t0.Add(delay-time.Second), delay) || set.Signing.ID != current.ID {
		t.Fatal("Publish before NextFrom changed the set")
	}
	if !set.Publish(t0.Add(delay), delay) || set.Signing.ID != next.ID || set.Next != nil {
		t.Fatalf("Publish at NextFrom: signing %v, next %v", set.Signing, set.Next)
	}
	if len(set.Verification) != 1 || set.Verification[0].ID != current.ID || set.Verification[0].CanSign() {
		t.Fatalf("Verification = %v, want the old key's public half", set.Verification)
	}
	reload()
	if set.Signing.ID != next.ID || set.Next != nil {
		t.Fatal("the promotion did not survive a reload")
	}
}

// A staged key may have signed on a running server, even one the file
// says is unpublished (a server that could not save): staging or rotating
// again keeps it verifying.
func TestKeySetRestageKeepsStagedKeys(t *testing.T) {
	for _, published := range []bool{false, true} {
		set := &token.KeySet{Signing: mustGenerate(t, "ES256")}
		if err := set.Stage("ES256"); err != nil {
			t.Fatal(err)
		}
		first := set.Next
		if published {
			set.Publish(t0, time.Minute)
		}
		if err := set.Stage("ES256"); err != nil {
			t.Fatal(err)
		}
		if err := set.Rotate("ES256"); err != nil {
			t.Fatal(err)
		}
		kept := slices.ContainsFunc(set.Verification, func(k *token.Key) bool { return k.ID == first.ID })
		if !kept || set.Next != nil {
			t.Errorf("published %v: first staged key kept %v, next %v (verification %v)", published, kept, set.Next, set.Verification)
		}
	}
}

func TestLoadOrCreateKeySetTakesTheNextAlgorithm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	set := &token.KeySet{Signing: mustGenerate(t, "ES256")}
	if err := set.Stage("EdDSA"); err != nil {
		t.Fatal(err)
	}
	if err := set.Save(path); err != nil {
		t.Fatal(err)
	}
	// The set's algorithm is the next key's: the old one would fail at
	// the start after the promotion instead of now.
	if _, _, err := token.LoadOrCreateKeySet(path, "EdDSA"); err != nil {
		t.Errorf("LATCH_ALGORITHM EdDSA with a set signing ES256, EdDSA next: %v", err)
	}
	for _, alg := range []string{"ES256", "RS256"} {
		if _, _, err := token.LoadOrCreateKeySet(path, alg); !errors.Is(err, token.ErrAlgorithmMismatch) {
			t.Errorf("%s: %v, want ErrAlgorithmMismatch", alg, err)
		}
	}
}
