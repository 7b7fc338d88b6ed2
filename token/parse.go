package token

import (
	"encoding/pem"
	"fmt"
	"strings"
)

// ParseKey reads a key given as configuration: a PEM key (private when
// private is true, else public) or, for the HS algorithms, the secret
// itself.
func ParseKey(alg, s string, private bool) (*Key, error) {
	if strings.Contains(s, "-----BEGIN") {
		if private {
			return ParsePrivateKeyPEM(alg, []byte(s))
		}
		return ParsePublicKeyPEM(alg, []byte(s))
	}
	if !strings.HasPrefix(alg, "HS") {
		return nil, fmt.Errorf("%s needs a PEM key", alg)
	}
	return NewHMACKey(alg, []byte(s))
}

// ParseVerificationKeys reads extra verification keys given as
// configuration, for key rotation: PEM public keys of any asymmetric
// algorithm and, outside PEM blocks, HS secrets one per line (for alg, or
// HS256 when alg is asymmetric).
func ParseVerificationKeys(alg, s string) ([]*Key, error) {
	var keys []*Key
	rest := []byte(s)
	for {
		block, after := pem.Decode(rest)
		if block == nil {
			break
		}
		enc := pem.EncodeToMemory(block)
		var k *Key
		var err error
		for _, a := range []string{"RS256", "ES256", "EdDSA"} {
			if k, err = ParsePublicKeyPEM(a, enc); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("verifying key: %w", err)
		}
		keys = append(keys, k)
		rest = after
	}
	hsAlg := alg
	if !strings.HasPrefix(hsAlg, "HS") {
		hsAlg = "HS256"
	}
	for _, line := range strings.Split(string(rest), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		k, err := NewHMACKey(hsAlg, []byte(line))
		if err != nil {
			return nil, fmt.Errorf("verifying key: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
