package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Options configures an [Engine]. The zero value of each optional field is
// the documented default.
type Options struct {
	// SigningKey signs new tokens and verifies them. Required, and it must
	// hold a secret or a private key.
	SigningKey *Key
	// VerificationKeys are further keys accepted when verifying, such as the
	// keys a rotation retired: tokens they signed stay valid until they
	// expire, so rotating a key logs nobody out. Remove a key once the
	// longest token lifetime has passed since it was retired.
	VerificationKeys []*Key
	// UserIDClaim names the user id claim; default "user_id".
	UserIDClaim string
	// UserIDAsString writes an integer user id as a JSON string, as
	// SimpleJWT 5.5 does; by default it is a number, as in SimpleJWT 5.2.
	UserIDAsString bool
	// Audience, if set, is written as "aud" and required when verifying.
	// If unset, tokens that carry an aud are rejected, as PyJWT does.
	Audience string
	// Issuer, if set, is written as "iss" and required when verifying.
	Issuer string
	// Leeway is the clock skew allowed for exp, nbf, iat and refresh_exp.
	// Keep it small (seconds): it extends the life of every token.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NextKey, if set, is published and verifies from the start, and signs
	// instead of SigningKey from NextFrom on: resource servers that cache
	// the JWKS learn it before they meet a token it signed.
	NextKey  *Key
	NextFrom time.Time
}

// Engine signs and verifies tokens. It is safe for concurrent use.
type Engine struct {
	signer
	next           *signer // Options.NextKey's, signing from nextFrom on
	nextFrom       time.Time
	byKID          map[string]*Key
	byAlg          map[string][]*Key
	parser         *jwt.Parser
	validator      *jwt.Validator // the parser's claim checks, for parseOwn
	deriveKey      []byte         // Derive's, from the signing key
	userIDClaim    string
	userIDAsString bool
	audience       string
	issuer         string
	leeway         time.Duration
	now            func() time.Time
	jwks           []byte
}

// New checks opts and returns an Engine.
func New(opts Options) (*Engine, error) {
	if !opts.SigningKey.CanSign() || !opts.SigningKey.usable() {
		return nil, errors.New("token: Options.SigningKey must be a key with a secret or private key")
	}
	if opts.Leeway < 0 {
		return nil, errors.New("token: Options.Leeway is negative")
	}
	if opts.NextKey != nil && (!opts.NextKey.CanSign() || !opts.NextKey.usable()) {
		return nil, errors.New("token: Options.NextKey must be a key with a secret or private key")
	}
	e := &Engine{
		byKID:          make(map[string]*Key),
		byAlg:          make(map[string][]*Key),
		nextFrom:       opts.NextFrom,
		userIDClaim:    opts.UserIDClaim,
		userIDAsString: opts.UserIDAsString,
		audience:       opts.Audience,
		issuer:         opts.Issuer,
		leeway:         opts.Leeway,
		now:            opts.Now,
	}
	if e.userIDClaim == "" {
		e.userIDClaim = "user_id"
	}
	if registered(e.userIDClaim) {
		return nil, fmt.Errorf("token: Options.UserIDClaim %q names another claim", e.userIDClaim)
	}
	if e.now == nil {
		e.now = time.Now
	}

	var (
		algs []string
		keys []*Key // signing key first, then verification keys, then the next; unique kids
	)
	all := append([]*Key{opts.SigningKey}, opts.VerificationKeys...)
	if opts.NextKey != nil {
		all = append(all, opts.NextKey)
	}
	for i, k := range all {
		if !k.usable() {
			return nil, fmt.Errorf("token: Options.VerificationKeys[%d] is not a usable key", i-1)
		}
		if old, ok := e.byKID[k.ID]; ok {
			if !old.sameMaterial(k) {
				return nil, fmt.Errorf("token: two different keys share the kid %q", k.ID)
			}
			continue
		}
		e.byKID[k.ID] = k
		e.byAlg[k.Algorithm] = append(e.byAlg[k.Algorithm], k)
		keys = append(keys, k)
		if !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}

	parserOpts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithLeeway(e.leeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(e.now),
		jwt.WithStrictDecoding(),
	}
	if e.audience != "" {
		parserOpts = append(parserOpts, jwt.WithAudience(e.audience))
	}
	if e.issuer != "" {
		parserOpts = append(parserOpts, jwt.WithIssuer(e.issuer))
	}
	e.parser = jwt.NewParser(parserOpts...)
	e.validator = jwt.NewValidator(parserOpts...)
	var err error
	if e.signer, err = newSigner(opts.SigningKey); err != nil {
		return nil, err
	}
	material, err := opts.SigningKey.MarshalPEMOrSecret()
	if err != nil {
		return nil, fmt.Errorf("token: signing key: %w", err)
	}
	e.deriveKey = mac(material, "latch derived values")
	if opts.NextKey != nil {
		next, err := newSigner(opts.NextKey)
		if err != nil {
			return nil, err
		}
		e.next = &next
	}

	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		if j := k.jwk(); j.Kty != "" {
			set.Keys = append(set.Keys, j)
		}
	}
	if e.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("token: JWKS: %w", err)
	}
	return e, nil
}

// signer is a signing key with what Sign needs of it.
type signer struct {
	signing *Key
	method  jwt.SigningMethod
	header  string   // base64url JOSE header of the tokens it signs
	macs    *macPool // the key's, when it is an HMAC secret
}

func newSigner(k *Key) (signer, error) {
	sg := signer{signing: k, method: method(k.Algorithm)}
	if m, ok := sg.method.(*jwt.SigningMethodHMAC); ok && k.secret != nil {
		sg.macs = newMACPool(m.Hash.New, k.secret())
	}
	// golang-jwt would also marshal the header with sorted keys; PyJWT sorts
	// them too (alg, kid, typ).
	header, err := json.Marshal(map[string]string{"alg": k.Algorithm, "kid": k.ID, "typ": "JWT"})
	if err != nil {
		return signer{}, fmt.Errorf("token: header: %w", err)
	}
	sg.header = b64.EncodeToString(header)
	return sg, nil
}

// active is the signer of a token signed now.
func (e *Engine) active() *signer {
	if e.next != nil && !e.now().Before(e.nextFrom) {
		return e.next
	}
	return &e.signer
}

// Derive returns a MAC of data under label with a key derived from the
// signing key: a value that only holders of that key can compute from
// data, the same for the same data (opaque handles use it, so that a
// repeated refresh in the grace interval gets the same handles).
func (e *Engine) Derive(label, data string) []byte {
	return mac(e.deriveKey, label+"\x00"+data)
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// UserIDAsString reports whether an integer user id is written as a JSON
// string (Options.UserIDAsString).
func (e *Engine) UserIDAsString() bool { return e.userIDAsString }

// Algorithm returns the algorithm of the key that signs now.
func (e *Engine) Algorithm() string { return e.active().signing.Algorithm }

// JWKS returns the JSON Web Key Set of the public keys of the engine's
// asymmetric keys, signing and verification ones: {"keys":[…]}, each with
// kid, kty, alg, use "sig" and crv/x/y or n/e. HMAC secrets are never
// published; with none of the others it is {"keys":[]}.
func (e *Engine) JWKS() []byte { return bytes.Clone(e.jwks) }

// Sign returns c as a signed compact JWT with the signing key's kid in its
// header (Options.NextKey's from Options.NextFrom on). c.Type and c.ExpiresAt are required; an empty c.ID is replaced with
// [NewID] and a zero c.IssuedAt with the engine's clock. The audience and
// issuer come from Options.
func (e *Engine) Sign(c Claims) (string, error) {
	body, err := e.encodeClaims(c)
	if err != nil {
		return "", err
	}
	sg := e.active()
	if sg.macs != nil {
		// header.payload.signature in one buffer.
		buf := make([]byte, 0, len(sg.header)+1+b64.EncodedLen(len(body))+1+b64.EncodedLen(64))
		buf = append(append(buf, sg.header...), '.')
		buf = b64.AppendEncode(buf, body)
		var sig [64]byte
		mac := sg.macs.sum(sig[:0], buf)
		buf = b64.AppendEncode(append(buf, '.'), mac)
		return string(buf), nil
	}
	signingString := sg.header + "." + b64.EncodeToString(body)
	sig, err := sg.method.Sign(signingString, sg.signing.signingKey())
	if err != nil {
		return "", fmt.Errorf("token: sign with %s: %w", sg.signing.Algorithm, err)
	}
	return signingString + "." + b64.EncodeToString(sig), nil
}

// Parse verifies raw and returns its claims.
//
// The signature must verify with the key named by the kid header, or, for a
// token without kid as SimpleJWT mints them, with one of the keys whose
// algorithm is the alg header; only the algorithms of the engine's keys are
// accepted, so alg "none" and HS256-signed-with-the-public-key confusion
// fail. exp, nbf and iat (which may not lie in the future) are checked with
// the leeway, aud and iss when configured. Every such failure is [ErrInvalid]
// (also [ErrExpired] for a good signature past exp).
//
// Then come SimpleJWT's checks, in its order: no exp is [ErrNoExp], no jti
// [ErrNoID]; if want is not empty, no token_type is [ErrNoType] and another
// one [ErrWrongType]; if want is [Sliding], no refresh_exp is
// [ErrNoRefreshExp]. With want "" (SimpleJWT's UntypedToken, used by the
// verify endpoint) the type is not checked. Parse does not check refresh_exp
// against the clock: see [Engine.RefreshExpired].
func (e *Engine) Parse(raw string, want Type) (*Claims, error) {
	if p, err := e.parseOwn(raw); p != nil {
		return e.claims(p, want)
	} else if err != nil {
		return nil, err
	}
	return e.parseGeneral(raw, want)
}

// parseGeneral is Parse through golang-jwt's parser alone.
func (e *Engine) parseGeneral(raw string, want Type) (*Claims, error) {
	p := new(payload)
	if _, err := e.parser.ParseWithClaims(raw, p, e.keyFor); err != nil {
		return nil, invalid(err)
	}
	return e.claims(p, want)
}

// parseOwn decides the tokens Sign made with an HMAC signing key (a next
// key's take the general path) as
// golang-jwt would: the exact header Sign writes (so alg and kid name
// that key), a signature that verifies, a payload that decodes, then the
// parser's own claim checks, whose failure it reports as golang-jwt's
// parser does (an expired access token is the usual 401 before a
// refresh). It returns neither payload nor error for anything else, and
// golang-jwt then decides, with its reasons. A refresh parses one such
// token, and golang-jwt's general path (the header decoded into a map, the
// payload scanned twice) cost more than the signature itself.
func (e *Engine) parseOwn(raw string) (*payload, error) {
	h := len(e.header)
	if e.macs == nil || len(raw) <= h || raw[h] != '.' || raw[:h] != e.header {
		return nil, nil
	}
	dot := strings.IndexByte(raw[h+1:], '.')
	if dot < 0 {
		return nil, nil
	}
	signed, sigSeg := raw[:h+1+dot], raw[h+2+dot:]
	var sig [64]byte // the longest HMAC, HS512's
	if b64Strict.DecodedLen(len(sigSeg)) > len(sig) {
		return nil, nil
	}
	n, err := b64Strict.Decode(sig[:], []byte(sigSeg))
	if err != nil || !e.macs.verify(signed, sig[:n]) {
		return nil, nil
	}
	body, err := b64Strict.DecodeString(raw[h+1 : h+1+dot])
	if err != nil || !json.Valid(body) {
		return nil, nil
	}
	p := new(payload)
	if p.UnmarshalJSON(body) != nil {
		return nil, nil
	}
	if err := e.validator.Validate(p); err != nil {
		// ParseWithClaims's wrapping of the same error.
		return nil, invalid(fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err))
	}
	return p, nil
}

// b64Strict decodes segments as the parser does (jwt.WithStrictDecoding).
var b64Strict = base64.RawURLEncoding.Strict()

// keyFor is the jwt.Keyfunc: golang-jwt has already checked that the alg
// header is one of the engine's algorithms.
func (e *Engine) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if kid, ok := t.Header["kid"]; ok {
		s, _ := kid.(string)
		k := e.byKID[s]
		if k == nil {
			return nil, errors.New("unknown kid")
		}
		if k.Algorithm != alg {
			return nil, errors.New("alg does not match the kid's key")
		}
		return k.verificationKey(), nil
	}
	keys := e.byAlg[alg]
	if len(keys) == 1 {
		return keys[0].verificationKey(), nil
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k.verificationKey()
	}
	return set, nil
}

// invalidReasons are golang-jwt's errors whose (static) texts may be shown as
// detail, most specific first.
var invalidReasons = []error{
	jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
	jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidAudience,
	jwt.ErrTokenInvalidIssuer, jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidClaims,
}

// invalid maps a golang-jwt error to ErrInvalid with a detail that cannot
// contain token bytes (golang-jwt's wrapped JSON errors can).
func invalid(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) {
		return fmt.Errorf("%w: %w", ErrInvalid, ErrExpired)
	}
	for _, reason := range invalidReasons {
		if errors.Is(err, reason) {
			return fmt.Errorf("%w: %s", ErrInvalid, reason)
		}
	}
	return ErrInvalid
}

// RefreshExpired reports whether a sliding token's refresh_exp has passed on
// the engine's clock, allowing the leeway, as SimpleJWT's
// check_exp("refresh_exp"). A zero c.RefreshExpiresAt counts as passed.
func (e *Engine) RefreshExpired(c *Claims) bool {
	return !c.RefreshExpiresAt.After(e.now().Add(-e.leeway))
}
