package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Errors returned by [Hasher.Verify]. They are wrapped with a short,
// fixed description of what is wrong; inspect them with [errors.Is].
var (
	// ErrUnknownScheme reports a stored hash in a format this package cannot
	// verify: an unknown algorithm (Django's md5, sha1, crypt, scrypt, ...),
	// or a known one in an unsupported variant (argon2d, argon2 version 16).
	ErrUnknownScheme = errors.New("password: unknown hash scheme")
	// ErrMalformed reports a stored hash of a known scheme whose fields do
	// not parse, or whose work factor is above this package's limits.
	ErrMalformed = errors.New("password: malformed hash")
)

// Defaults for the zero fields of [Params]: OWASP's recommended argon2id
// configuration (19 MiB, 2 passes, 1 lane).
const (
	defaultMemory      = 19 * 1024 // KiB
	defaultIterations  = 2
	defaultParallelism = 1
	defaultSaltLength  = 16
	defaultKeyLength   = 32
)

// Limits on the work a stored hash may ask for, and on the sizes of its
// fields. They bound the cost of one Verify whatever the database holds.
const (
	maxEncodedLength    = 4096
	maxPBKDF2Iterations = 10_000_000
	maxBcryptCost       = 16      // 2^16 rounds, about 4 s; Django's default is 12
	maxArgon2Memory     = 1 << 20 // KiB, 1 GiB
	maxArgon2Work       = 4 << 20 // memory (KiB) × iterations: 4 GiB-passes
	minArgon2Salt       = 8       // as the reference implementation and argon2-cffi
	minArgon2Key        = 4       // as the reference implementation
	maxArgon2Field      = 1024    // bytes of salt or key
	minNewSaltLength    = 8       // for new hashes
	minNewKeyLength     = 16      // for new hashes
	argon2Version       = argon2.Version
	argon2VersionPrefix = "v=19"
)

// limits are the ceilings Verify applies to stored hashes; tests lower them.
type limits struct {
	pbkdf2Iterations int
	bcryptCost       int
	argon2Memory     uint32
	argon2Work       uint64
}

var defaultLimits = limits{
	pbkdf2Iterations: maxPBKDF2Iterations,
	bcryptCost:       maxBcryptCost,
	argon2Memory:     maxArgon2Memory,
	argon2Work:       maxArgon2Work,
}

// Params are the argon2id parameters of new hashes. Each zero field means its
// documented default; the zero Params is OWASP's recommendation (memory
// 19 MiB, 2 iterations, parallelism 1) with a 16-byte salt and a 32-byte key.
type Params struct {
	// Memory in KiB; default 19456 (19 MiB). At least 8 × Parallelism and
	// at most 1 GiB (1048576), and Memory × Iterations at most 4 GiB.
	Memory uint32
	// Iterations (passes over the memory); default 2.
	Iterations uint32
	// Parallelism (lanes); default 1.
	Parallelism uint8
	// SaltLength in bytes; default 16, at least 8, at most 1024.
	SaltLength uint32
	// KeyLength (hash output) in bytes; default 32, at least 16, at most 1024.
	KeyLength uint32
}

func (p Params) withDefaults() Params {
	if p.Memory == 0 {
		p.Memory = defaultMemory
	}
	if p.Iterations == 0 {
		p.Iterations = defaultIterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = defaultParallelism
	}
	if p.SaltLength == 0 {
		p.SaltLength = defaultSaltLength
	}
	if p.KeyLength == 0 {
		p.KeyLength = defaultKeyLength
	}
	return p
}

func (p Params) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("password: argon2 memory %d KiB is below 8 KiB per lane (%d lanes)", p.Memory, p.Parallelism)
	case p.Memory > maxArgon2Memory:
		return fmt.Errorf("password: argon2 memory %d KiB is above the limit of %d KiB", p.Memory, maxArgon2Memory)
	case uint64(p.Memory)*uint64(p.Iterations) > maxArgon2Work:
		return fmt.Errorf("password: argon2 memory × iterations %d is above the limit of %d", uint64(p.Memory)*uint64(p.Iterations), maxArgon2Work)
	case p.SaltLength < minNewSaltLength || p.SaltLength > maxArgon2Field:
		return fmt.Errorf("password: argon2 salt length %d is outside [%d, %d]", p.SaltLength, minNewSaltLength, maxArgon2Field)
	case p.KeyLength < minNewKeyLength || p.KeyLength > maxArgon2Field:
		return fmt.Errorf("password: argon2 key length %d is outside [%d, %d]", p.KeyLength, minNewKeyLength, maxArgon2Field)
	}
	return nil
}

// Hasher hashes passwords with argon2id and verifies them against stored
// hashes. It is safe for concurrent use. Salts come from crypto/rand (tests
// make them deterministic with testing/cryptotest.SetGlobalRandom).
type Hasher struct {
	params Params
	limits limits
	dummy  argon2Hash // random salt and key with params: never matches
}

// NewHasher returns a Hasher that makes new hashes with p (zero fields take
// their defaults). It returns an error if a parameter is out of the range
// documented on [Params].
func NewHasher(p Params) (*Hasher, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	h := &Hasher{params: p, limits: defaultLimits}
	h.dummy = argon2Hash{
		variant:     argon2id,
		memory:      p.Memory,
		iterations:  p.Iterations,
		parallelism: p.Parallelism,
		salt:        make([]byte, p.SaltLength),
		key:         make([]byte, p.KeyLength),
	}
	rand.Read(h.dummy.salt)
	rand.Read(h.dummy.key)
	return h, nil
}

// Params returns the parameters of new hashes, with defaults filled in.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the argon2id hash of password as a PHC string, such as
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> with unpadded standard
// base64 salt and hash. The salt is fresh for every call. The error is
// always nil today; it is there for schemes that may fail.
func (h *Hasher) Hash(password string) (string, error) {
	p := h.params
	a := argon2Hash{
		variant:     argon2id,
		memory:      p.Memory,
		iterations:  p.Iterations,
		parallelism: p.Parallelism,
		salt:        make([]byte, p.SaltLength),
	}
	rand.Read(a.salt) // never fails since Go 1.24
	a.key = a.derive(password, p.KeyLength)
	return a.String(), nil
}

// Verify reports whether password matches encoded, a stored hash in any of
// these formats:
//
//   - latch's own $argon2id$v=19$m=…,t=…,p=…$salt$hash (also $argon2i$);
//   - Django's pbkdf2_sha256$iterations$salt$hash and pbkdf2_sha1$…;
//   - Django's bcrypt_sha256$$2b$cost$… and bcrypt$$2b$…;
//   - Django's argon2$argon2id$v=19$… and argon2$argon2i$v=19$….
//
// The final comparison is constant-time. An empty encoded and Django's
// unusable passwords (starting with "!") never match and are not an error.
//
// needsRehash is true when ok and encoded is not argon2id with h's current
// parameters (a Django hash, or argon2id with other parameters, salt or key
// length): the caller should then store the result of [Hasher.Hash] for the
// password it has just verified.
//
// err wraps [ErrUnknownScheme] for a format not listed above and
// [ErrMalformed] for unparsable fields or a work factor above the limits:
// more than 10,000,000 PBKDF2 iterations, a bcrypt cost above 16, argon2
// memory above 1 GiB or memory × iterations above 4 GiB. ok is then false.
func (h *Hasher) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	if encoded == "" || strings.HasPrefix(encoded, "!") {
		return false, false, nil
	}
	if len(encoded) > maxEncodedLength {
		return false, false, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxEncodedLength)
	}
	algorithm, rest, found := strings.Cut(encoded, "$")
	if !found {
		return false, false, ErrUnknownScheme
	}
	switch algorithm {
	case "": // PHC: $argon2id$...
		a, err := parseArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		if err := h.checkArgon2(a); err != nil {
			return false, false, err
		}
		ok := a.verify(password)
		return ok, ok && !h.current(a), nil
	case "argon2": // Django: argon2$argon2id$...
		a, err := parseArgon2("$" + rest)
		if err != nil {
			return false, false, err
		}
		if err := h.checkArgon2(a); err != nil {
			return false, false, err
		}
		ok := a.verify(password)
		return ok, ok, nil
	case "pbkdf2_sha256", "pbkdf2_sha1":
		ok, err := h.verifyPBKDF2(algorithm, rest, password)
		return ok, ok, err
	case "bcrypt_sha256", "bcrypt":
		ok, err := h.verifyBcrypt(algorithm, rest, password)
		return ok, ok, err
	}
	return false, false, ErrUnknownScheme
}

// Verifiable reports whether Verify knows the scheme of encoded (it may
// still find its fields malformed): argon2id PHC strings and Django's
// argon2, pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256 and bcrypt hashes.
func Verifiable(encoded string) bool {
	algorithm, _, ok := strings.Cut(encoded, "$")
	if !ok {
		return false
	}
	switch algorithm {
	case "", "argon2", "pbkdf2_sha256", "pbkdf2_sha1", "bcrypt_sha256", "bcrypt":
		return true
	}
	return false
}

// Dummy does the work of a failed [Hasher.Verify] against a hash with h's
// current parameters and discards the result. Call it when the username is
// unknown, so that the response takes as long as for a wrong password.
// (Users whose stored hash is still a Django one take that hash's time until
// their next login upgrades it.)
// The error is always nil; it is there for [Process], whose worker may fail.
func (h *Hasher) Dummy(password string) error {
	h.dummy.verify(password)
	return nil
}

// current reports whether a is what h.Hash would produce today.
func (h *Hasher) current(a argon2Hash) bool {
	p := h.params
	return a.variant == argon2id &&
		a.memory == p.Memory &&
		a.iterations == p.Iterations &&
		a.parallelism == p.Parallelism &&
		uint32(len(a.salt)) == p.SaltLength &&
		uint32(len(a.key)) == p.KeyLength
}

func (h *Hasher) checkArgon2(a argon2Hash) error {
	switch {
	case a.memory > h.limits.argon2Memory:
		return fmt.Errorf("%w: argon2 memory above the limit", ErrMalformed)
	case uint64(a.memory)*uint64(a.iterations) > h.limits.argon2Work:
		return fmt.Errorf("%w: argon2 memory × iterations above the limit", ErrMalformed)
	}
	return nil
}

type argon2Variant uint8

const (
	argon2id argon2Variant = iota
	argon2i
)

// argon2Hash is a parsed PHC argon2 string (version 19 only).
type argon2Hash struct {
	variant     argon2Variant
	memory      uint32 // KiB
	iterations  uint32
	parallelism uint8
	salt, key   []byte
}

func (a argon2Hash) derive(password string, keyLen uint32) []byte {
	if a.variant == argon2i {
		return argon2.Key([]byte(password), a.salt, a.iterations, a.memory, a.parallelism, keyLen)
	}
	return argon2.IDKey([]byte(password), a.salt, a.iterations, a.memory, a.parallelism, keyLen)
}

func (a argon2Hash) verify(password string) bool {
	got := a.derive(password, uint32(len(a.key)))
	return subtle.ConstantTimeCompare(got, a.key) == 1
}

// String returns the PHC encoding.
func (a argon2Hash) String() string {
	name := "argon2id"
	if a.variant == argon2i {
		name = "argon2i"
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", name, argon2Version,
		a.memory, a.iterations, a.parallelism, b64.EncodeToString(a.salt), b64.EncodeToString(a.key))
}

// parseArgon2 parses $argon2id$v=19$m=M,t=T,p=P$salt$key (unpadded standard
// base64), as written by the reference implementation and argon2-cffi, and
// checks the fields against argon2's own minimums. Work limits are checked
// by the caller.
func parseArgon2(s string) (argon2Hash, error) {
	var a argon2Hash
	fields := strings.Split(s, "$")
	if len(fields) < 2 || fields[0] != "" {
		return a, fmt.Errorf("%w: argon2 fields", ErrMalformed)
	}
	switch fields[1] {
	case "argon2id":
		a.variant = argon2id
	case "argon2i":
		a.variant = argon2i
	default: // argon2d and anything else
		return a, ErrUnknownScheme
	}
	if len(fields) == 5 && strings.HasPrefix(fields[2], "m=") {
		// No v= field: version 16 (0x10), which x/crypto/argon2 lacks.
		return a, fmt.Errorf("%w: argon2 version 16", ErrUnknownScheme)
	}
	if len(fields) != 6 {
		return a, fmt.Errorf("%w: argon2 fields", ErrMalformed)
	}
	if fields[2] != argon2VersionPrefix {
		if v, ok := strings.CutPrefix(fields[2], "v="); ok && isDigits(v) {
			return a, fmt.Errorf("%w: argon2 version", ErrUnknownScheme)
		}
		return a, fmt.Errorf("%w: argon2 version", ErrMalformed)
	}
	m, t, p, err := parseArgon2Params(fields[3])
	if err != nil {
		return a, err
	}
	a.memory, a.iterations, a.parallelism = m, t, p
	b64 := base64.RawStdEncoding
	if a.salt, err = b64.DecodeString(fields[4]); err != nil {
		return a, fmt.Errorf("%w: argon2 salt encoding", ErrMalformed)
	}
	if a.key, err = b64.DecodeString(fields[5]); err != nil {
		return a, fmt.Errorf("%w: argon2 hash encoding", ErrMalformed)
	}
	switch {
	case len(a.salt) < minArgon2Salt || len(a.salt) > maxArgon2Field:
		return a, fmt.Errorf("%w: argon2 salt length", ErrMalformed)
	case len(a.key) < minArgon2Key || len(a.key) > maxArgon2Field:
		return a, fmt.Errorf("%w: argon2 hash length", ErrMalformed)
	}
	return a, nil
}

// parseArgon2Params parses "m=M,t=T,p=P" in that order.
func parseArgon2Params(s string) (m, t uint32, p uint8, err error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: argon2 parameters", ErrMalformed)
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(parts[i], name)
		if !ok || !isDigits(v) {
			return 0, 0, 0, fmt.Errorf("%w: argon2 parameters", ErrMalformed)
		}
		bits := 32
		if i == 2 {
			bits = 8
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%w: argon2 parameter out of range", ErrMalformed)
		}
		vals[i] = n
	}
	m, t, p = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	switch {
	case t < 1:
		return 0, 0, 0, fmt.Errorf("%w: argon2 iterations below 1", ErrMalformed)
	case p < 1:
		return 0, 0, 0, fmt.Errorf("%w: argon2 parallelism below 1", ErrMalformed)
	case m < 8*uint32(p):
		return 0, 0, 0, fmt.Errorf("%w: argon2 memory below 8 KiB per lane", ErrMalformed)
	}
	return m, t, p, nil
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
