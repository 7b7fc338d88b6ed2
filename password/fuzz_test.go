package password

import (
	"errors"
	"strings"
	"testing"
)

// FuzzVerify feeds Verify stored hashes as a Django import might contain
// them. Verify must not panic, must classify every failure as ErrMalformed
// or ErrUnknownScheme, and its errors must not depend on the password nor
// quote the hash. Limits are lowered so each call stays cheap; the code
// paths are the same.
func FuzzVerify(f *testing.F) {
	h := mustHasher(f, testParams)
	h.limits = limits{pbkdf2Iterations: 2000, bcryptCost: 5, argon2Memory: 1024, argon2Work: 2048}
	for _, v := range loadVectors(f) {
		if !v.Costly {
			f.Add(v.Encoded, v.Password)
		}
	}
	f.Add(mustHash(f, h, "secret"), "secret")
	for _, s := range []string{
		"", "!", "$", "$$$$$", "argon2$", "bcrypt$", "bcrypt_sha256$$2b$",
		"pbkdf2_sha256$$$", "pbkdf2_sha256$1000$salt$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$$",
		"argon2$argon2i$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$AAAAAA",
		"bcrypt$$2b$99$abcdefghijklmnopqrstuuVUrPmXD6q/nVSSp7pNDhCR9071IfIRe",
	} {
		f.Add(s, "secret")
	}
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ok, rehash, err := h.Verify(encoded, password)
		if err != nil {
			if ok || rehash {
				t.Fatalf("Verify = %v, %v, %v: ok or rehash with an error", ok, rehash, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownScheme) {
				t.Fatalf("Verify error %v is neither ErrMalformed nor ErrUnknownScheme", err)
			}
			// Every message is fixed text without "$", and every hash of a
			// known scheme contains "$", so no message can quote one.
			if strings.Contains(err.Error(), "$") {
				t.Fatalf("Verify error %q contains $", err)
			}
			if !strings.Contains(encoded, "$") && !errors.Is(err, ErrUnknownScheme) {
				t.Fatalf("Verify error %v for a string without $, want ErrUnknownScheme", err)
			}
		}
		if rehash && !ok {
			t.Fatalf("Verify = false, true: rehash without a match")
		}
		if encoded == "" || strings.HasPrefix(encoded, "!") {
			if ok || err != nil {
				t.Fatalf("Verify(unusable) = %v, %v; want false, nil", ok, err)
			}
		}
		// Errors depend on the hash only, never on the password.
		_, _, err2 := h.Verify(encoded, password+"\x00other")
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("errors differ with the password: %v and %v", err, err2)
		}
		if ok && !strings.HasPrefix(encoded, "bcrypt$") {
			// Only bcrypt ignores part of the password (past 72 bytes).
			if ok2, _, _ := h.Verify(encoded, password+"\x00other"); ok2 {
				t.Fatalf("Verify matched two different passwords")
			}
		}
	})
}
