package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latch-auth/latch/token"
)

// t0 is the tests' clock.
var t0 = time.Unix(1_700_000_000, 0)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// djangoSecret is a short Django-style SECRET_KEY, as SimpleJWT deployments use.
const djangoSecret = "django-insecure-secret"

var b64 = base64.RawURLEncoding

// mintHS256 signs header and payload (JSON text) with HMAC-SHA256 the way
// PyJWT does, so tests can build SimpleJWT's tokens and malformed ones.
func mintHS256(secret, header, payload string) string {
	s := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(s))
	return s + "." + b64.EncodeToString(mac.Sum(nil))
}

// simpleJWTHeader is the header SimpleJWT 5.2.2 (PyJWT) writes for HS256.
const simpleJWTHeader = `{"alg":"HS256","typ":"JWT"}`

func mustHMAC(tb testing.TB, alg, secret string) *token.Key {
	tb.Helper()
	k, err := token.NewHMACKey(alg, []byte(secret))
	if err != nil {
		tb.Fatalf("NewHMACKey(%s): %v", alg, err)
	}
	return k
}

func mustGenerate(tb testing.TB, alg string) *token.Key {
	tb.Helper()
	k, err := token.GenerateKey(alg)
	if err != nil {
		tb.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	return k
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustPrivatePEM(tb testing.TB, alg, fixture string) *token.Key {
	tb.Helper()
	k, err := token.ParsePrivateKeyPEM(alg, readFixture(tb, fixture))
	if err != nil {
		tb.Fatalf("ParsePrivateKeyPEM(%s, %s): %v", alg, fixture, err)
	}
	return k
}

// testKey returns a signing key for alg; RS256 comes from a fixture because
// generating RSA keys is slow.
func testKey(tb testing.TB, alg string) *token.Key {
	tb.Helper()
	switch alg {
	case "HS256", "HS384", "HS512":
		return mustHMAC(tb, alg, djangoSecret)
	case "RS256":
		return mustPrivatePEM(tb, alg, "rsa2048-pkcs1.pem")
	}
	return mustGenerate(tb, alg)
}

func mustEngine(tb testing.TB, opts token.Options) *token.Engine {
	tb.Helper()
	if opts.Now == nil {
		opts.Now = clock(t0)
	}
	e, err := token.New(opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return e
}

func mustSign(tb testing.TB, e *token.Engine, c token.Claims) string {
	tb.Helper()
	raw, err := e.Sign(c)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return raw
}

// accessClaims are typical claims at t0.
func accessClaims() token.Claims {
	return token.Claims{
		Type:      token.Access,
		ID:        "0123456789abcdef0123456789abcdef",
		UserID:    "42",
		IssuedAt:  t0,
		ExpiresAt: t0.Add(5 * time.Minute),
	}
}
