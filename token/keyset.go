package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// KeySet is the persisted set of keys: one active signing key plus the
// retired keys that still verify the tokens they signed, and maybe a next
// key, published before it signs (see [KeySet.Stage]).
//
// Its file is JSON, mode 0600:
//
//	{"version":1,"signing":{"kid":"…","alg":"HS256","secret":"<base64>"},
//	 "verification":[{"kid":"…","alg":"ES256","pem":"-----BEGIN PUBLIC KEY-----…"}],
//	 "next":{"kid":"…","alg":"ES256","pem":"-----BEGIN PRIVATE KEY-----…"},"next_signs_from":"2026-12-07T22:40:00Z"}
type KeySet struct {
	Signing      *Key
	Verification []*Key
	// Next is a staged key: published from the first start that loads it,
	// signing from NextFrom on (zero: not yet published; see Publish).
	Next     *Key
	NextFrom time.Time
}

// ErrAlgorithmMismatch is returned by [LoadOrCreateKeySet] when the stored
// signing key uses another algorithm than the one asked for.
var ErrAlgorithmMismatch = errors.New("token: the key set's signing key has another algorithm; rotate the keys to change it")

const keySetVersion = 1

type keySetFile struct {
	Version      int       `json:"version"`
	Signing      *keyFile  `json:"signing"`
	Verification []keyFile `json:"verification,omitempty"`
	Next         *keyFile  `json:"next,omitempty"`
	NextFrom     time.Time `json:"next_signs_from,omitzero"`
}

type keyFile struct {
	ID        string `json:"kid"`
	Algorithm string `json:"alg"`
	Secret    []byte `json:"secret,omitempty"` // HMAC secret
	PEM       string `json:"pem,omitempty"`    // PKCS #8 private or PKIX public key
}

func encodeKey(k *Key) (keyFile, error) {
	data, err := k.MarshalPEMOrSecret()
	if err != nil {
		return keyFile{}, err
	}
	kf := keyFile{ID: k.ID, Algorithm: k.Algorithm}
	if k.secret != nil {
		kf.Secret = data
	} else {
		kf.PEM = string(data)
	}
	return kf, nil
}

func decodeKey(kf keyFile) (*Key, error) {
	var (
		k   *Key
		err error
	)
	switch {
	case kf.Secret != nil:
		k, err = NewHMACKey(kf.Algorithm, kf.Secret)
	case bytes.Contains([]byte(kf.PEM), []byte("PRIVATE KEY-----")):
		k, err = ParsePrivateKeyPEM(kf.Algorithm, []byte(kf.PEM))
	default:
		k, err = ParsePublicKeyPEM(kf.Algorithm, []byte(kf.PEM))
	}
	if err != nil {
		return nil, err
	}
	if kf.ID != "" { // a stored kid wins, so kids stay stable
		k.ID = kf.ID
	}
	return k, nil
}

// LoadKeySet reads a key set written by [KeySet.Save]. If the file does not
// exist the error wraps fs.ErrNotExist.
func LoadKeySet(path string) (*KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: load key set: %w", err)
	}
	var f keySetFile
	// The JSON error is dropped: it may quote bytes of a secret.
	if json.Unmarshal(data, &f) != nil {
		return nil, fmt.Errorf("token: key set %s is not valid JSON", path)
	}
	if f.Version != keySetVersion || f.Signing == nil {
		return nil, fmt.Errorf("token: key set %s: want version %d with a signing key", path, keySetVersion)
	}
	s := &KeySet{}
	if s.Signing, err = decodeKey(*f.Signing); err != nil {
		return nil, fmt.Errorf("token: key set %s: signing key: %w", path, err)
	}
	if !s.Signing.CanSign() {
		return nil, fmt.Errorf("token: key set %s: the signing key cannot sign", path)
	}
	for i, kf := range f.Verification {
		k, err := decodeKey(kf)
		if err != nil {
			return nil, fmt.Errorf("token: key set %s: verification key %d: %w", path, i, err)
		}
		s.Verification = append(s.Verification, k)
	}
	if f.Next != nil {
		if s.Next, err = decodeKey(*f.Next); err != nil {
			return nil, fmt.Errorf("token: key set %s: next key: %w", path, err)
		}
		if !s.Next.CanSign() {
			return nil, fmt.Errorf("token: key set %s: the next key cannot sign", path)
		}
		s.NextFrom = f.NextFrom
	}
	return s, nil
}

// Save writes the key set to path atomically (a temporary file in the same
// directory, then a rename) with mode 0600, creating the parent directory
// with mode 0700 if needed.
func (s *KeySet) Save(path string) error { return s.save(path, false) }

// save writes the file; if exclusive, an existing file is left alone and the
// error wraps fs.ErrExist.
func (s *KeySet) save(path string, exclusive bool) error {
	if !s.Signing.CanSign() {
		return errors.New("token: save key set: no signing key")
	}
	f := keySetFile{Version: keySetVersion}
	sk, err := encodeKey(s.Signing)
	if err != nil {
		return err
	}
	f.Signing = &sk
	for _, k := range s.Verification {
		kf, err := encodeKey(k)
		if err != nil {
			return err
		}
		f.Verification = append(f.Verification, kf)
	}
	if s.Next != nil {
		nk, err := encodeKey(s.Next)
		if err != nil {
			return err
		}
		f.Next, f.NextFrom = &nk, s.NextFrom.UTC()
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	return writeFileAtomic(path, append(data, '\n'), exclusive)
}

func writeFileAtomic(path string, data []byte, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	if exclusive {
		// A hard link fails if path exists, so two processes creating the
		// set at once cannot overwrite each other's key.
		if err = os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("token: save key set: %w", err)
		}
		_ = os.Remove(tmp.Name())
	} else if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("token: save key set: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// LoadOrCreateKeySet loads the key set at path, or, if there is none, makes
// one with a fresh alg signing key ([GenerateKey]), saves it and reports
// created. If the set's key is not an alg key the error wraps
// [ErrAlgorithmMismatch]: switching algorithms is a [KeySet.Rotate] or
// [KeySet.Stage]. With a staged next key, that key is the set's: its
// algorithm is the one the set signs with once it is published, so a
// configuration that names the old one fails now rather than at a later
// start.
func LoadOrCreateKeySet(path, alg string) (s *KeySet, created bool, err error) {
	s, err = LoadKeySet(path)
	if errors.Is(err, fs.ErrNotExist) {
		s = &KeySet{}
		if s.Signing, err = GenerateKey(alg); err != nil {
			return nil, false, err
		}
		err = s.save(path, true)
		if err == nil {
			return s, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		s, err = LoadKeySet(path) // another process was first
	}
	if err != nil {
		return nil, false, err
	}
	have := s.Signing.Algorithm
	if s.Next != nil {
		have = s.Next.Algorithm
	}
	if have != alg {
		return nil, false, fmt.Errorf("%w: %s holds %s, want %s", ErrAlgorithmMismatch, path, have, alg)
	}
	return s, false, nil
}

// Rotate makes a fresh alg signing key ([GenerateKey]) and moves the current
// one to the front of Verification, without its private half, so the tokens
// it signed keep verifying; so does a staged next key (a running server may
// sign with it). Save the set afterwards.
func (s *KeySet) Rotate(alg string) error {
	if err := s.Stage(alg); err != nil {
		return err
	}
	s.Promote()
	return nil
}

// retireNext drops the staged key, keeping its public half among the
// verification keys: a server may have published it, and signed with it,
// without recording that in the file (a read-only data dir).
func (s *KeySet) retireNext() {
	if s.Next != nil {
		s.Verification = append([]*Key{s.Next.publicOnly()}, s.Verification...)
	}
	s.Next, s.NextFrom = nil, time.Time{}
}

func (s *KeySet) replaceSigning(k *Key) {
	if s.Signing != nil {
		s.Verification = append([]*Key{s.Signing.publicOnly()}, s.Verification...)
	}
	s.Signing = k
}

// Stage makes a fresh alg key the next one: it is published (JWKS) from
// the first start that loads it ([KeySet.Publish]) and signs only once
// resource servers that cache the JWKS have had time to fetch it. A key
// staged before keeps verifying, as in Rotate. Save the set afterwards.
func (s *KeySet) Stage(alg string) error {
	k, err := GenerateKey(alg)
	if err != nil {
		return err
	}
	s.retireNext()
	s.Next = k
	return nil
}

// Promote makes the staged next key the signing key at once.
func (s *KeySet) Promote() {
	if s.Next != nil {
		s.replaceSigning(s.Next)
		s.Next, s.NextFrom = nil, time.Time{}
	}
}

// Publish is what a server does as it loads the set at now: a next key due
// (NextFrom passed) becomes the signing key, and one not yet published
// gets NextFrom = now + delay, the time its publication needs. It reports
// whether the set changed (save it then).
func (s *KeySet) Publish(now time.Time, delay time.Duration) bool {
	switch {
	case s.Next == nil:
		return false
	case s.NextFrom.IsZero():
		s.NextFrom = now.Add(delay)
	case !now.Before(s.NextFrom):
		s.Promote()
	default:
		return false
	}
	return true
}
