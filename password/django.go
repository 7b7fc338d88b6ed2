package password

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// verifyPBKDF2 checks Django's PBKDF2PasswordHasher and
// PBKDF2SHA1PasswordHasher: rest is "iterations$salt$hash", where the salt
// is used as its text bytes and hash is standard padded base64 of a key as
// long as the digest (32 or 20 bytes).
func (h *Hasher) verifyPBKDF2(algorithm, rest, password string) (bool, error) {
	parts := strings.SplitN(rest, "$", 3)
	if len(parts) != 3 {
		return false, fmt.Errorf("%w: %s fields", ErrMalformed, algorithm)
	}
	iterText, salt, hashText := parts[0], parts[1], parts[2]
	if !isDigits(iterText) {
		return false, fmt.Errorf("%w: %s iterations", ErrMalformed, algorithm)
	}
	iterations, err := strconv.Atoi(iterText)
	if err != nil || iterations < 1 || iterations > h.limits.pbkdf2Iterations {
		return false, fmt.Errorf("%w: %s iterations out of range", ErrMalformed, algorithm)
	}
	if salt == "" {
		return false, fmt.Errorf("%w: %s empty salt", ErrMalformed, algorithm)
	}
	// Strict: Django compares its own canonical encoding, so must we.
	want, err := base64.StdEncoding.Strict().DecodeString(hashText)
	if err != nil || strings.ContainsAny(hashText, "\r\n") {
		return false, fmt.Errorf("%w: %s hash encoding", ErrMalformed, algorithm)
	}
	var got []byte
	if algorithm == "pbkdf2_sha1" {
		if len(want) != sha1.Size {
			return false, fmt.Errorf("%w: %s hash length", ErrMalformed, algorithm)
		}
		got, err = pbkdf2.Key(sha1.New, password, []byte(salt), iterations, sha1.Size)
	} else {
		if len(want) != sha256.Size {
			return false, fmt.Errorf("%w: %s hash length", ErrMalformed, algorithm)
		}
		got, err = pbkdf2.Key(sha256.New, password, []byte(salt), iterations, sha256.Size)
	}
	if err != nil { // only in FIPS 140-only mode
		return false, fmt.Errorf("password: %s: %w", algorithm, err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// verifyBcrypt checks Django's BCryptSHA256PasswordHasher (the password is
// first replaced by the hex SHA-256 of its UTF-8 bytes) and
// BCryptPasswordHasher (the password itself, of which bcrypt reads only the
// first 72 bytes). rest is the modular-crypt string "$2b$cost$…".
func (h *Hasher) verifyBcrypt(algorithm, rest, password string) (bool, error) {
	hashed := []byte(rest)
	cost, err := bcrypt.Cost(hashed)
	if err != nil {
		return false, fmt.Errorf("%w: %s", ErrMalformed, algorithm)
	}
	if cost > h.limits.bcryptCost {
		return false, fmt.Errorf("%w: %s cost above the limit", ErrMalformed, algorithm)
	}
	var secret []byte
	if algorithm == "bcrypt_sha256" {
		sum := sha256.Sum256([]byte(password))
		secret = hex.AppendEncode(nil, sum[:])
	} else {
		secret = []byte(password)
		if len(secret) > 72 {
			secret = secret[:72] // what Django's bcrypt library hashed
		}
	}
	switch err := bcrypt.CompareHashAndPassword(hashed, secret); {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default: // bad salt encoding, version, ...: never echo the library's text
		return false, fmt.Errorf("%w: %s", ErrMalformed, algorithm)
	}
}
