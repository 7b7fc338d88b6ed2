package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// Key is one signing or verification key: an HMAC secret, or an ES256, EdDSA
// or RS256 private or public key. Keys are made with [NewHMACKey],
// [ParsePrivateKeyPEM], [ParsePublicKeyPEM] or [GenerateKey]; the zero Key is
// not usable.
//
// Printing a Key with fmt shows only its kid and algorithm, never the key
// material.
type Key struct {
	// ID is the kid header of the tokens the key signs.
	ID string
	// Algorithm is the JWS alg: HS256, HS384, HS512, ES256, EdDSA or RS256.
	Algorithm string

	// The secret and the private key sit behind closures: fmt prints a func
	// as an address, so not even reflection-driven printing of a struct that
	// holds a Key (where Format is not called) can reveal them.
	secret  func() []byte        // HMAC secret; nil for asymmetric keys
	private func() crypto.Signer // private key; nil for HMAC and verification-only keys
	public  crypto.PublicKey     // asymmetric public key
}

func hide[T any](v T) func() T { return func() T { return v } }

// Algorithms returns the supported values of Key.Algorithm.
func Algorithms() []string { return []string{"HS256", "HS384", "HS512", "ES256", "EdDSA", "RS256"} }

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

func method(alg string) jwt.SigningMethod {
	switch alg {
	case "HS256":
		return jwt.SigningMethodHS256
	case "HS384":
		return jwt.SigningMethodHS384
	case "HS512":
		return jwt.SigningMethodHS512
	case "ES256":
		return jwt.SigningMethodES256
	case "EdDSA":
		return jwt.SigningMethodEdDSA
	case "RS256":
		return jwt.SigningMethodRS256
	}
	return nil
}

func isHMAC(alg string) bool { return alg == "HS256" || alg == "HS384" || alg == "HS512" }

func unsupported(alg string) error {
	return fmt.Errorf("token: unsupported algorithm %q (want one of %v)", alg, Algorithms())
}

// NewHMACKey returns a key for HS256, HS384 or HS512. Its kid is the first 16
// hex digits of SHA-256("latch-kid:"+secret), so instances that share a secret
// share the kid.
//
// Any non-empty secret is accepted so that an existing SimpleJWT deployment's
// Django SECRET_KEY keeps working, but a secret should hold at least as many
// random bytes as the hash output (32 for HS256); [GenerateKey] makes 64.
func NewHMACKey(alg string, secret []byte) (*Key, error) {
	if !isHMAC(alg) {
		return nil, fmt.Errorf("token: NewHMACKey: %q is not an HMAC algorithm", alg)
	}
	if len(secret) == 0 {
		return nil, errors.New("token: NewHMACKey: empty secret")
	}
	sum := sha256.Sum256(append([]byte("latch-kid:"), secret...))
	return &Key{ID: hex.EncodeToString(sum[:8]), Algorithm: alg, secret: hide(append([]byte(nil), secret...))}, nil
}

// ParsePrivateKeyPEM parses a PKCS #8, SEC 1 ("EC PRIVATE KEY") or PKCS #1
// ("RSA PRIVATE KEY") PEM private key for alg: ES256 needs a P-256 key, EdDSA
// an Ed25519 key, RS256 an RSA key of at least 2048 bits. Other PEM blocks
// (such as "EC PARAMETERS") are skipped; encrypted keys are not supported. The
// kid is the key's RFC 7638 JWK thumbprint.
func ParsePrivateKeyPEM(alg string, pemBytes []byte) (*Key, error) {
	block := findPEM(pemBytes, "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY")
	if block == nil {
		return nil, errors.New("token: no PRIVATE KEY PEM block found")
	}
	var (
		parsed any
		err    error
	)
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	// The x509 error is dropped: it would say nothing useful and this text
	// must never echo key material.
	if err != nil {
		return nil, fmt.Errorf("token: malformed %s PEM block", block.Type)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("token: unsupported private key type %T", parsed)
	}
	return newAsymmetric(alg, signer, signer.Public())
}

// ParsePublicKeyPEM parses a PKIX ("PUBLIC KEY") or PKCS #1 ("RSA PUBLIC KEY")
// PEM public key for alg; the key verifies tokens but cannot sign them.
func ParsePublicKeyPEM(alg string, pemBytes []byte) (*Key, error) {
	block := findPEM(pemBytes, "PUBLIC KEY", "RSA PUBLIC KEY")
	if block == nil {
		return nil, errors.New("token: no PUBLIC KEY PEM block found")
	}
	var (
		parsed any
		err    error
	)
	if block.Type == "PUBLIC KEY" {
		parsed, err = x509.ParsePKIXPublicKey(block.Bytes)
	} else {
		parsed, err = x509.ParsePKCS1PublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("token: malformed %s PEM block", block.Type)
	}
	return newAsymmetric(alg, nil, parsed)
}

// GenerateKey makes a fresh key for alg: for HS* a secret of 64 random
// base32 characters (320 bits), printable so that it can also be given to
// SimpleJWT as its SIGNING_KEY; for ES256, EdDSA and RS256 a new P-256,
// Ed25519 or 2048-bit RSA key pair.
func GenerateKey(alg string) (*Key, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "HS256", "HS384", "HS512":
		return NewHMACKey(alg, []byte(rand.Text() + rand.Text() + rand.Text())[:64])
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	case "RS256":
		signer, err = rsa.GenerateKey(rand.Reader, minRSABits)
	default:
		return nil, unsupported(alg)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	return newAsymmetric(alg, signer, signer.Public())
}

func findPEM(data []byte, types ...string) *pem.Block {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		for _, t := range types {
			if block.Type == t {
				return block
			}
		}
	}
}

// newAsymmetric checks that pub fits alg and derives the kid.
func newAsymmetric(alg string, priv crypto.Signer, pub crypto.PublicKey) (*Key, error) {
	if method(alg) == nil {
		return nil, unsupported(alg)
	}
	if isHMAC(alg) {
		return nil, fmt.Errorf("token: %s needs a secret, not a PEM key", alg)
	}
	var fits bool
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		fits = alg == "ES256" && p.Curve == elliptic.P256()
	case ed25519.PublicKey:
		fits = alg == "EdDSA"
	case *rsa.PublicKey:
		if alg == "RS256" && p.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("token: RSA key has %d bits, want at least %d", p.N.BitLen(), minRSABits)
		}
		fits = alg == "RS256"
	}
	if !fits {
		return nil, fmt.Errorf("token: a %s key does not fit algorithm %s", keyType(pub), alg)
	}
	k := &Key{Algorithm: alg, public: pub}
	if priv != nil {
		k.private = hide(priv)
	}
	k.ID = thumbprint(k.jwk())
	return k, nil
}

func keyType(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + p.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return "RSA"
	}
	return fmt.Sprintf("%T", pub)
}

// CanSign reports whether the key holds a secret or a private key.
func (k *Key) CanSign() bool { return k != nil && (k.secret != nil || k.private != nil) }

// usable reports whether the key was made by one of this package's constructors.
func (k *Key) usable() bool {
	return k != nil && k.ID != "" && method(k.Algorithm) != nil &&
		isHMAC(k.Algorithm) == (k.secret != nil) && (k.secret != nil || k.public != nil)
}

// signingKey and verificationKey are the values golang-jwt's methods expect.
func (k *Key) signingKey() any {
	if k.secret != nil {
		return k.secret()
	}
	return k.private()
}

func (k *Key) verificationKey() any {
	if k.secret != nil {
		return k.secret()
	}
	return k.public
}

// Symmetric reports whether k is an HMAC secret, which no JWKS publishes.
func (k *Key) Symmetric() bool { return k.secret != nil }

// publicOnly returns the key without its private half; HMAC keys are returned
// unchanged since their secret is needed to verify.
func (k *Key) publicOnly() *Key {
	if k.secret != nil || k.private == nil {
		return k
	}
	return &Key{ID: k.ID, Algorithm: k.Algorithm, public: k.public}
}

// sameMaterial reports whether k and o hold the same algorithm and key.
func (k *Key) sameMaterial(o *Key) bool {
	if k.Algorithm != o.Algorithm {
		return false
	}
	if k.secret != nil || o.secret != nil {
		return k.secret != nil && o.secret != nil && subtle.ConstantTimeCompare(k.secret(), o.secret()) == 1
	}
	eq, ok := k.public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(o.public)
}

// MarshalPEMOrSecret returns the key in a form that can be persisted and
// parsed back: the raw secret of an HMAC key, a PKCS #8 "PRIVATE KEY" PEM
// block for a private key, a PKIX "PUBLIC KEY" PEM block for a public key.
// The result is secret unless the key is public.
func (k *Key) MarshalPEMOrSecret() ([]byte, error) {
	switch {
	case k == nil || !k.usable():
		return nil, errors.New("token: MarshalPEMOrSecret on an unusable key")
	case k.secret != nil:
		return append([]byte(nil), k.secret()...), nil
	case k.private != nil:
		der, err := x509.MarshalPKCS8PrivateKey(k.private())
		if err != nil {
			return nil, fmt.Errorf("token: marshal %s private key: %w", k.Algorithm, err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	default:
		der, err := x509.MarshalPKIXPublicKey(k.public)
		if err != nil {
			return nil, fmt.Errorf("token: marshal %s public key: %w", k.Algorithm, err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
	}
}

// String returns the kid and algorithm, never the key material.
func (k Key) String() string { return fmt.Sprintf("token.Key{ID:%q Algorithm:%q}", k.ID, k.Algorithm) }

// GoString is String, so %#v cannot reveal the key material either.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb, so no fmt verb reveals the key material.
func (k Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// jwk is one JSON Web Key as published in the JWKS (RFC 7517, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

var b64 = base64.RawURLEncoding

// jwk returns the public JWK of an asymmetric key (the zero jwk for HMAC).
func (k *Key) jwk() jwk {
	j := jwk{Use: "sig", Alg: k.Algorithm, Kid: k.ID}
	switch p := k.public.(type) {
	case *ecdsa.PublicKey:
		pt, err := p.Bytes() // 0x04 || X || Y, fixed width
		if err != nil {
			return jwk{}
		}
		n := (len(pt) - 1) / 2
		j.Kty, j.Crv, j.X, j.Y = "EC", p.Curve.Params().Name, b64.EncodeToString(pt[1:1+n]), b64.EncodeToString(pt[1+n:])
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(p)
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64.EncodeToString(p.N.Bytes()), b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	}
	return j
}

// thumbprint is the RFC 7638 SHA-256 JWK thumbprint: the required members in
// lexicographic order, no whitespace. The values are base64url or fixed names,
// so they need no JSON escaping.
func thumbprint(j jwk) string {
	var s string
	switch j.Kty {
	case "EC":
		s = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "OKP":
		s = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	case "RSA":
		s = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}
