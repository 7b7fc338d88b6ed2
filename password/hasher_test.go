package password

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// testParams are cheap argon2id parameters for tests.
var testParams = Params{Memory: 64, Iterations: 1, Parallelism: 1}

// mustHasher returns a Hasher with p or fails the test.
func mustHasher(tb testing.TB, p Params) *Hasher {
	tb.Helper()
	h, err := NewHasher(p)
	if err != nil {
		tb.Fatalf("NewHasher(%+v): %v", p, err)
	}
	return h
}

// mustHash returns h.Hash(password) or fails the test.
func mustHash(tb testing.TB, h *Hasher, password string) string {
	tb.Helper()
	encoded, err := h.Hash(password)
	if err != nil {
		tb.Fatalf("Hash: %v", err)
	}
	return encoded
}

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, testParams)
	tests := []struct {
		name, password string
	}{
		{"ascii", "correct horse battery staple"},
		{"empty", ""},
		{"unicode", "pässwörd ✓ 密码"},
		{"dollars", "$argon2id$v=19$"},
		{"nul byte", "a\x00b"},
		{"long", strings.Repeat("long", 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := mustHash(t, h, tt.password)
			if !strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Errorf("Hash = %q, want prefix $argon2id$v=19$m=64,t=1,p=1$", encoded)
			}
			ok, rehash, err := h.Verify(encoded, tt.password)
			if !ok || rehash || err != nil {
				t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(encoded, tt.password+"x")
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestHashFreshSalt(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, testParams)
	a, b := mustHash(t, h, "secret"), mustHash(t, h, "secret")
	if a == b {
		t.Errorf("two hashes of the same password are equal: %q", a)
	}
}

// TestHashRandomness checks that salts come from crypto/rand only, so that
// testing/cryptotest can make them deterministic. Not parallel: the random
// source is process-wide.
func TestHashRandomness(t *testing.T) {
	h := mustHasher(t, testParams)
	cryptotest.SetGlobalRandom(t, 1)
	a := mustHash(t, h, "secret")
	cryptotest.SetGlobalRandom(t, 1)
	b := mustHash(t, h, "secret")
	cryptotest.SetGlobalRandom(t, 2)
	c := mustHash(t, h, "secret")
	if a != b {
		t.Errorf("same seed: got %q and %q, want equal", a, b)
	}
	if a == c {
		t.Errorf("different seeds: both %q", a)
	}
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, Params{})
	want := Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if got := h.Params(); got != want {
		t.Errorf("Params() = %+v, want %+v", got, want)
	}
	encoded := mustHash(t, h, "secret")
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[1] != "argon2id" || fields[2] != "v=19" || fields[3] != "m=19456,t=2,p=1" {
		t.Fatalf("Hash = %q, want $argon2id$v=19$m=19456,t=2,p=1$salt$hash", encoded)
	}
	for i, wantLen := range map[int]int{4: 16, 5: 32} {
		if strings.HasSuffix(fields[i], "=") {
			t.Errorf("field %d %q is padded", i, fields[i])
		}
		b, err := base64.RawStdEncoding.DecodeString(fields[i])
		if err != nil || len(b) != wantLen {
			t.Errorf("field %d decodes to %d bytes, %v; want %d bytes", i, len(b), err, wantLen)
		}
	}
	ok, rehash, err := h.Verify(encoded, "secret")
	if !ok || rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestNewHasherValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       Params
		wantErr bool
	}{
		{"zero is defaults", Params{}, false},
		{"small", testParams, false},
		{"RFC 9106 second option", Params{Memory: 64 << 10, Iterations: 3, Parallelism: 4}, false},
		{"memory below 8 KiB per lane", Params{Memory: 31, Parallelism: 4}, true},
		{"memory above 1 GiB", Params{Memory: 1<<20 + 1, Iterations: 1}, true},
		{"memory 1 GiB", Params{Memory: 1 << 20, Iterations: 1}, false},
		{"work above limit", Params{Memory: 1 << 20, Iterations: 5}, true},
		{"short salt", Params{SaltLength: 4}, true},
		{"huge salt", Params{SaltLength: 4096}, true},
		{"short key", Params{KeyLength: 8}, true},
		{"huge key", Params{KeyLength: 1 << 20}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHasher(tt.p)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewHasher(%+v) error = %v, want error %v", tt.p, err, tt.wantErr)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	old := mustHasher(t, testParams)
	encoded := mustHash(t, old, "secret")
	tests := []struct {
		name string
		p    Params
		want bool
	}{
		{"same params", testParams, false},
		{"more memory", Params{Memory: 128, Iterations: 1, Parallelism: 1}, true},
		{"more iterations", Params{Memory: 64, Iterations: 2, Parallelism: 1}, true},
		{"more lanes", Params{Memory: 64, Iterations: 1, Parallelism: 2}, true},
		{"longer salt", Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 32}, true},
		{"longer key", Params{Memory: 64, Iterations: 1, Parallelism: 1, KeyLength: 64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustHasher(t, tt.p)
			ok, rehash, err := h.Verify(encoded, "secret")
			if !ok || rehash != tt.want || err != nil {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
			ok, rehash, err = h.Verify(encoded, "wrong")
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

type vector struct {
	Name      string `json:"name"`
	Password  string `json:"password"`
	Encoded   string `json:"encoded"`
	Truncates bool   `json:"truncates"` // bcrypt: only the first 72 bytes count
	Costly    bool   `json:"costly"`    // Django's default work factor
}

// loadVectors reads testdata/django.json, written by testdata/gen_django.py
// with Django's own hashers.
func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	data, err := os.ReadFile("testdata/django.json")
	if err != nil {
		tb.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		tb.Fatal(err)
	}
	if len(vs) == 0 {
		tb.Fatal("no vectors in testdata/django.json")
	}
	return vs
}

func TestVerifyDjangoVectors(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			if v.Costly && testing.Short() {
				t.Skip("Django's default work factor takes seconds under -race")
			}
			t.Parallel()
			wantRehash := !strings.HasPrefix(v.Encoded, "$argon2id$")
			ok, rehash, err := h.Verify(v.Encoded, v.Password)
			if !ok || rehash != wantRehash || err != nil {
				t.Errorf("Verify(right password) = %v, %v, %v; want true, %v, nil", ok, rehash, err, wantRehash)
			}
			if v.Costly {
				return // the cheap vectors of the same schemes check wrong passwords
			}
			ok, rehash, err = h.Verify(v.Encoded, v.Password+"x")
			if ok != v.Truncates || rehash != v.Truncates || err != nil {
				t.Errorf("Verify(password+x) = %v, %v, %v; want %v, %v, nil", ok, rehash, err, v.Truncates, v.Truncates)
			}
			if v.Password != "" && !v.Truncates {
				ok, _, err = h.Verify(v.Encoded, v.Password[1:])
				if ok || err != nil {
					t.Errorf("Verify(password minus first byte) = %v, %v; want false, nil", ok, err)
				}
			}
		})
	}
}

func TestVerifyBcryptSHA256Construction(t *testing.T) {
	t.Parallel()
	// Django's BCryptSHA256PasswordHasher built here from its definition
	// (bcrypt over the lowercase hex SHA-256 of the password), independently
	// of the vectors made by Django itself.
	h := mustHasher(t, testParams)
	for _, password := range []string{"secret", "", strings.Repeat("long", 50)} {
		sum := sha256.Sum256([]byte(password))
		hashed, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(sum[:])), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		encoded := "bcrypt_sha256$" + string(hashed)
		ok, rehash, err := h.Verify(encoded, password)
		if !ok || !rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want true, true, nil", password, ok, rehash, err)
		}
		ok, _, err = h.Verify(encoded, password+"x")
		if ok || err != nil {
			t.Errorf("Verify(%q+x) = %v, %v; want false, nil", password, ok, err)
		}
		// The same bcrypt string without the SHA-256 step is a different hash.
		ok, _, err = h.Verify("bcrypt$"+string(hashed), password)
		if ok || err != nil {
			t.Errorf("Verify(bcrypt$…, %q) = %v, %v; want false, nil", password, ok, err)
		}
	}
}

func TestVerifyUnusableAndEmpty(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, testParams)
	for _, encoded := range []string{"", "!", "!Xk2fLkX3ZQ8vsp5cVYJ2Tbmu6kT7Q3vF7ETl3W6r", "!pbkdf2_sha256$1000$salt$hash"} {
		for _, password := range []string{"", "secret", encoded, encoded[min(1, len(encoded)):]} {
			ok, rehash, err := h.Verify(encoded, password)
			if ok || rehash || err != nil {
				t.Errorf("Verify(%q, %q) = %v, %v, %v; want false, false, nil", encoded, password, ok, rehash, err)
			}
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, testParams)
	good := mustHash(t, h, "secret")
	goodFields := strings.Split(good, "$")
	salt, key := goodFields[4], goodFields[5]
	const pbkdf2Hash = "bQ7SQt3FSH9CkZlMJKgiWLehb3+mEtyy1tO95akt8q0=" // 32 bytes
	const bcryptHash = "$2b$04$JZ2x2YnA6cDmWp7AD9.gG.3tc8zGlkmdsoCEuiYIFFBfN6wWrN/Uy"
	tests := []struct {
		name, encoded string
		want          error
	}{
		{"plain text", "hunter2", ErrUnknownScheme},
		{"django md5", "md5$salt$0123456789abcdef0123456789abcdef", ErrUnknownScheme},
		{"django unsalted md5", "0123456789abcdef0123456789abcdef", ErrUnknownScheme},
		{"django sha1", "sha1$salt$0123456789abcdef0123456789abcdef01234567", ErrUnknownScheme},
		{"django scrypt", "scrypt$salt$16384$8$1$hash", ErrUnknownScheme},
		{"django crypt", "crypt$$abN/qM.L/H8EQ", ErrUnknownScheme},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownScheme},
		{"argon2 version 16", "argon2$argon2i$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownScheme},
		{"argon2 version 20", "$argon2id$v=20$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownScheme},
		{"bare dollar", "$", ErrUnknownScheme},
		{"too long", "pbkdf2_sha256$1000$" + strings.Repeat("s", 5000) + "$" + pbkdf2Hash, ErrMalformed},

		{"pbkdf2 missing fields", "pbkdf2_sha256$1000$salt", ErrMalformed},
		{"pbkdf2 iterations not a number", "pbkdf2_sha256$abc$salt$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 negative iterations", "pbkdf2_sha256$-1$salt$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 signed iterations", "pbkdf2_sha256$+1000$salt$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 zero iterations", "pbkdf2_sha256$0$salt$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 iterations above cap", "pbkdf2_sha256$10000001$salt$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 iterations overflow", "pbkdf2_sha256$99999999999999999999999$salt$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 empty salt", "pbkdf2_sha256$1000$$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 bad base64", "pbkdf2_sha256$1000$salt$not*base64", ErrMalformed},
		{"pbkdf2 unpadded base64", "pbkdf2_sha256$1000$salt$" + strings.TrimSuffix(pbkdf2Hash, "="), ErrMalformed},
		{"pbkdf2 newline in base64", "pbkdf2_sha256$1000$salt$" + pbkdf2Hash[:10] + "\n" + pbkdf2Hash[10:], ErrMalformed},
		{"pbkdf2 empty hash", "pbkdf2_sha256$1000$salt$", ErrMalformed},
		{"pbkdf2 short hash", "pbkdf2_sha256$1000$salt$AAAA", ErrMalformed},
		{"pbkdf2_sha1 sha256-length hash", "pbkdf2_sha1$1000$salt$" + pbkdf2Hash, ErrMalformed},
		{"pbkdf2 dollar in hash", "pbkdf2_sha256$1000$salt$" + pbkdf2Hash + "$x", ErrMalformed},

		{"bcrypt empty", "bcrypt$", ErrMalformed},
		{"bcrypt truncated", "bcrypt$$2b$04$JZ2x2YnA6cD", ErrMalformed},
		{"bcrypt no version dollar", "bcrypt_sha256$2b$04$JZ2x2YnA6cDmWp7AD9.gG.3tc8zGlkmdsoCEuiYIFFBfN6wWrN/Uyx", ErrMalformed},
		{"bcrypt cost above cap", "bcrypt_sha256$" + strings.Replace(bcryptHash, "$04$", "$17$", 1), ErrMalformed},
		{"bcrypt cost 31", "bcrypt$" + strings.Replace(bcryptHash, "$04$", "$31$", 1), ErrMalformed},
		{"bcrypt cost too low", "bcrypt$" + strings.Replace(bcryptHash, "$04$", "$03$", 1), ErrMalformed},
		{"bcrypt cost not a number", "bcrypt$" + strings.Replace(bcryptHash, "$04$", "$xx$", 1), ErrMalformed},
		{"bcrypt bad salt", "bcrypt$$2b$04$!!!!!!!!!!!!!!!!!!!!!!" + bcryptHash[29:], ErrMalformed},
		{"bcrypt version 3", "bcrypt$$3b$04$" + bcryptHash[7:], ErrMalformed},

		{"argon2 missing fields", "$argon2id$v=19$m=64,t=1,p=1$" + salt, ErrMalformed},
		{"argon2 extra field", good + "$x", ErrMalformed},
		{"argon2 version garbage", "$argon2id$v=x$m=64,t=1,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 params reordered", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 params missing", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 params signed", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 zero iterations", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 zero lanes", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key, ErrMalformed},
		{"argon2 lanes above 255", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key, ErrMalformed},
		{"argon2 memory below 8 KiB per lane", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key, ErrMalformed},
		{"argon2 memory above cap", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 memory overflow", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 work above cap", "$argon2id$v=19$m=1048576,t=5,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 iterations above cap", "$argon2id$v=19$m=8,t=4294967295,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2 salt padded", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key, ErrMalformed},
		{"argon2 bad salt", "$argon2id$v=19$m=64,t=1,p=1$*$" + key, ErrMalformed},
		{"argon2 short salt", "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + key, ErrMalformed},
		{"argon2 empty hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$", ErrMalformed},
		{"argon2 short hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAA", ErrMalformed},
		{"django argon2 without inner dollar", "argon2argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownScheme},
		{"django argon2 empty", "argon2$", ErrUnknownScheme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			ok, rehash, err := h.Verify(tt.encoded, "secret")
			if ok || rehash || !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, %v, %v; want false, false, %v", ok, rehash, err, tt.want)
			}
			if err != nil && strings.ContainsAny(err.Error(), "$") {
				t.Errorf("error %q contains part of the hash", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Verify took %v; a rejected hash must not be computed", d)
			}
		})
	}
}

func TestVerifyErrorsOmitSecrets(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, testParams)
	const password = "Sup3r-Secret-Password"
	for _, encoded := range []string{
		"pbkdf2_sha256$1000$" + password + "$notbase64",
		"pbkdf2_sha256$" + password + "$salt$AAAA",
		"bcrypt$" + password,
		"$argon2id$v=19$m=64,t=1,p=1$" + password + "$" + password,
		password,
		password + "$" + password,
	} {
		_, _, err := h.Verify(encoded, password)
		if err == nil {
			t.Errorf("Verify(%q) error = nil, want one", encoded)
			continue
		}
		if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "$") {
			t.Errorf("Verify(%q) error %q reveals the password or hash", encoded, err)
		}
	}
}

func TestDummyMatchesVerify(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 2048, Iterations: 2, Parallelism: 2, SaltLength: 24, KeyLength: 48}
	h := mustHasher(t, p)
	d := h.dummy
	if !h.current(d) {
		t.Fatalf("dummy hash %v does not have the hasher's params %+v", d, h.Params())
	}
	if ok, _, _ := h.Verify(d.String(), "secret"); ok {
		t.Errorf("dummy hash matches a password")
	}
	if testing.Short() {
		return
	}
	// Loosely: Dummy costs about what a failed Verify costs.
	encoded := mustHash(t, h, "secret")
	fastest := func(f func()) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 15 {
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return best
	}
	dummy := fastest(func() { h.Dummy("wrong") })
	verify := fastest(func() { h.Verify(encoded, "wrong") })
	if dummy < verify/4 || dummy > verify*4 {
		t.Errorf("Dummy took %v, failed Verify %v; want them close", dummy, verify)
	}
}

func BenchmarkHash(b *testing.B) {
	h := mustHasher(b, Params{})
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, v := range loadVectors(b) {
		if v.Costly || strings.HasPrefix(v.Encoded, "$") {
			b.Run(v.Name, func(b *testing.B) {
				h := mustHasher(b, Params{})
				for b.Loop() {
					h.Verify(v.Encoded, v.Password)
				}
			})
		}
	}
}
