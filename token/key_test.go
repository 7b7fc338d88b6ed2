package token_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/latch-auth/latch/token"
)

func TestParsePrivateKeyPEM(t *testing.T) {
	tests := []struct {
		name, alg, fixture string
		ok                 bool
	}{
		{"SEC 1 P-256 after EC PARAMETERS", "ES256", "ec-p256-sec1.pem", true},
		{"PKCS #8 Ed25519", "EdDSA", "ed25519-pkcs8.pem", true},
		{"PKCS #1 RSA 2048", "RS256", "rsa2048-pkcs1.pem", true},
		{"RSA below 2048 bits", "RS256", "rsa1024-pkcs1.pem", false},
		{"P-384 for ES256", "ES256", "ec-p384-sec1.pem", false},
		{"Ed25519 for ES256", "ES256", "ed25519-pkcs8.pem", false},
		{"EC for RS256", "RS256", "ec-p256-sec1.pem", false},
		{"RSA for EdDSA", "EdDSA", "rsa2048-pkcs1.pem", false},
		{"PEM for HS256", "HS256", "ec-p256-sec1.pem", false},
		{"unsupported algorithm", "PS256", "rsa2048-pkcs1.pem", false},
		{"public key", "ES256", "ec-p256-pub.pem", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := token.ParsePrivateKeyPEM(tt.alg, readFixture(t, tt.fixture))
			if (err == nil) != tt.ok {
				t.Fatalf("ParsePrivateKeyPEM = %v, %v; want ok=%v", k, err, tt.ok)
			}
			if tt.ok && (!k.CanSign() || k.Algorithm != tt.alg || len(k.ID) != 43) {
				t.Errorf("key = %v (CanSign %v), want a %s signing key with a 43-character thumbprint kid", k, k.CanSign(), tt.alg)
			}
		})
	}
	for _, garbage := range []string{"", "not PEM", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if k, err := token.ParsePrivateKeyPEM("ES256", []byte(garbage)); err == nil {
			t.Errorf("ParsePrivateKeyPEM(%q) = %v, nil; want an error", garbage, k)
		}
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	tests := []struct{ alg, private, public string }{
		{"ES256", "ec-p256-sec1.pem", "ec-p256-pub.pem"},
		{"EdDSA", "ed25519-pkcs8.pem", "ed25519-pub.pem"},
		{"RS256", "rsa2048-pkcs1.pem", "rsa2048-pub.pem"},
		{"RS256", "rsa2048-pkcs1.pem", "rsa2048-pkcs1-pub.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.public, func(t *testing.T) {
			pub, err := token.ParsePublicKeyPEM(tt.alg, readFixture(t, tt.public))
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM: %v", err)
			}
			if pub.CanSign() {
				t.Error("a public key reports CanSign")
			}
			if priv := mustPrivatePEM(t, tt.alg, tt.private); pub.ID != priv.ID {
				t.Errorf("public kid %s, private kid %s; want equal", pub.ID, priv.ID)
			}
		})
	}
	if k, err := token.ParsePublicKeyPEM("ES256", readFixture(t, "ec-p256-sec1.pem")); err == nil {
		t.Errorf("ParsePublicKeyPEM(private key) = %v, nil; want an error", k)
	}
}

// TestThumbprintRFC7638 checks the kid against RFC 7638 §3.1's example.
func TestThumbprintRFC7638(t *testing.T) {
	n, err := b64.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	k := parsePublic(t, "RS256", &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; k.ID != want {
		t.Errorf("kid = %s, want %s", k.ID, want)
	}
}

func TestNewHMACKey(t *testing.T) {
	k := mustHMAC(t, "HS256", djangoSecret)
	if want := "da3ed5f3e985ecfc"; k.ID != want { // sha256("latch-kid:"+secret)[:8] in hex
		t.Errorf("kid = %s, want %s", k.ID, want)
	}
	if !k.CanSign() {
		t.Error("HMAC key cannot sign")
	}
	if k2 := mustHMAC(t, "HS512", djangoSecret); k2.ID != k.ID {
		t.Errorf("kid depends on the algorithm: %s vs %s", k2.ID, k.ID)
	}
	for _, tt := range []struct{ alg, secret string }{{"HS256", ""}, {"ES256", "secret"}, {"none", "secret"}} {
		if k, err := token.NewHMACKey(tt.alg, []byte(tt.secret)); err == nil {
			t.Errorf("NewHMACKey(%q, %q) = %v, nil; want an error", tt.alg, tt.secret, k)
		}
	}
}

func TestGenerateAndMarshalKeys(t *testing.T) {
	for _, alg := range token.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			k := mustGenerate(t, alg)
			if !k.CanSign() || k.Algorithm != alg || k.ID == "" {
				t.Fatalf("GenerateKey = %v (CanSign %v), want a %s signing key with a kid", k, k.CanSign(), alg)
			}
			if k2 := mustGenerate(t, alg); k2.ID == k.ID {
				t.Errorf("two generated keys share the kid %s", k.ID)
			}
			data, err := k.MarshalPEMOrSecret()
			if err != nil {
				t.Fatalf("MarshalPEMOrSecret: %v", err)
			}
			var back *token.Key
			if strings.HasPrefix(alg, "HS") {
				if len(data) != 64 {
					t.Errorf("secret has %d bytes, want 64", len(data))
				}
				back, err = token.NewHMACKey(alg, data)
			} else {
				if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----")) {
					t.Errorf("marshalled key is not PKCS #8 PEM: %.30q", data)
				}
				back, err = token.ParsePrivateKeyPEM(alg, data)
			}
			if err != nil {
				t.Fatalf("parse marshalled key: %v", err)
			}
			if back.ID != k.ID {
				t.Errorf("kid after round trip = %s, want %s", back.ID, k.ID)
			}
			// The re-parsed key verifies what the original signed.
			raw := mustSign(t, mustEngine(t, token.Options{SigningKey: k}), accessClaims())
			if _, err := mustEngine(t, token.Options{SigningKey: back}).Parse(raw, token.Access); err != nil {
				t.Errorf("Parse with the re-parsed key: %v", err)
			}
		})
	}
	if k, err := token.GenerateKey("HS1"); err == nil {
		t.Errorf("GenerateKey(HS1) = %v, nil; want an error", k)
	}
}

func TestKeyFormatHidesSecret(t *testing.T) {
	const secret = "correct-horse-battery-staple-0123456789"
	hk := mustHMAC(t, "HS256", secret)
	ek := mustPrivatePEM(t, "ES256", "ec-p256-sec1.pem")
	pemBytes, err := ek.MarshalPEMOrSecret()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	der, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	d, err := der.(*ecdsa.PrivateKey).Bytes() // the private scalar
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		secret, hex.EncodeToString([]byte(secret)), strings.Trim(fmt.Sprint([]byte(secret)), "[]"),
		new(big.Int).SetBytes(d).String(), hex.EncodeToString(d), strings.Trim(fmt.Sprint(d), "[]"),
	}
	e := mustEngine(t, token.Options{SigningKey: hk, VerificationKeys: []*token.Key{ek}})
	set := &token.KeySet{Signing: hk, Verification: []*token.Key{ek}}
	// fmt does not call Format on unexported fields: it prints them by
	// reflection, and with a verb such as %s it dereferences pointers.
	type holder struct {
		engine *token.Engine
		key    token.Key
		ptr    *token.Key
	}
	values := map[string]any{
		"HMAC key": hk, "HMAC key value": *hk, "EC key": ek, "key set": set, "keys": []*token.Key{hk, ek},
		"engine": e, "unexported fields": holder{e, *ek, hk}, "unexported EC key": holder{key: *ek},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out := fmt.Sprintf(verb, v)
			for _, f := range forbidden {
				if strings.Contains(out, f) {
					t.Errorf("fmt %s of %s = %q reveals key material", verb, name, out)
				}
			}
		}
	}
	if got, want := fmt.Sprint(hk), fmt.Sprintf("token.Key{ID:%q Algorithm:\"HS256\"}", hk.ID); got != want {
		t.Errorf("fmt.Sprint(key) = %s, want %s", got, want)
	}
}

// parsePublic turns a public key into a token.Key through PKIX PEM.
func parsePublic(tb testing.TB, alg string, pub crypto.PublicKey) *token.Key {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := token.ParsePublicKeyPEM(alg, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		tb.Fatalf("ParsePublicKeyPEM: %v", err)
	}
	return k
}

// publicKeyFromJWK rebuilds a verification key from a published JWK and
// checks that its kid is the JWK's.
func publicKeyFromJWK(tb testing.TB, j map[string]string) *token.Key {
	tb.Helper()
	dec := func(name string) []byte {
		b, err := b64.DecodeString(j[name])
		if err != nil {
			tb.Fatalf("JWK member %s: %v", name, err)
		}
		return b
	}
	var pub crypto.PublicKey
	switch j["kty"] {
	case "EC":
		x, y := dec("x"), dec("y")
		if len(x) != 32 || len(y) != 32 || j["crv"] != "P-256" {
			tb.Fatalf("EC JWK: crv %s, %d-byte x, %d-byte y; want P-256 with 32 bytes each", j["crv"], len(x), len(y))
		}
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			tb.Fatal(err)
		}
		pub = p
	case "OKP":
		if j["crv"] != "Ed25519" {
			tb.Fatalf("OKP JWK crv = %s, want Ed25519", j["crv"])
		}
		pub = ed25519.PublicKey(dec("x"))
	case "RSA":
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(dec("n")), E: int(new(big.Int).SetBytes(dec("e")).Int64())}
	default:
		tb.Fatalf("unexpected kty %q", j["kty"])
	}
	k := parsePublic(tb, j["alg"], pub)
	if k.ID != j["kid"] {
		tb.Errorf("thumbprint of the published key = %s, JWK kid %s", k.ID, j["kid"])
	}
	return k
}
