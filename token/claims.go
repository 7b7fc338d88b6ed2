package token

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Type is the token_type claim.
type Type string

// The token types SimpleJWT mints.
const (
	Access  Type = "access"
	Refresh Type = "refresh"
	Sliding Type = "sliding"
)

// Claims is the payload of a token.
type Claims struct {
	Type Type // token_type
	// ID is the jti: 32 lowercase hex digits as SimpleJWT (uuid4().hex) and
	// [NewID] make.
	ID string
	// UserID is the user id claim ("user_id" unless Options.UserIDClaim says
	// otherwise) as decimal text, "" if absent or neither an integer nor a
	// string.
	UserID    string
	SessionID string // sid; "" if absent (SimpleJWT's tokens have none)
	Version   int64  // ver, the user's token version; 0 if absent
	IssuedAt  time.Time
	ExpiresAt time.Time
	// RefreshExpiresAt is refresh_exp (sliding tokens only), zero if absent.
	RefreshExpiresAt time.Time
	// Extra holds the other claims, such as "username" and "role". Parse
	// decodes numbers in it as json.Number. Sign ignores keys that name a
	// claim above (or aud, iss, nbf): they cannot be overridden.
	Extra map[string]any
}

// NewID returns a random jti: 32 lowercase hex digits, like SimpleJWT's
// uuid4().hex (128 random bits rather than uuid4's 122).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// registered reports whether name is a claim that Claims or Options own,
// other than the user id.
func registered(name string) bool {
	switch name {
	case "token_type", "exp", "iat", "jti", "sid", "ver", "refresh_exp", "aud", "iss", "nbf":
		return true
	}
	return false
}

// reserved reports whether name may not appear in Claims.Extra.
func (e *Engine) reserved(name string) bool { return name == e.userIDClaim || registered(name) }

// encodeClaims writes the payload as SimpleJWT 5.2.2 (through PyJWT) does:
// token_type, exp, iat, jti, refresh_exp, the user id, then latch's sid and
// ver, the extra claims sorted by name, and aud and iss last, which is where
// SimpleJWT's TokenBackend.encode appends them. Like Python's json.dumps it
// uses no whitespace and escapes every non-ASCII character.
func (e *Engine) encodeClaims(c Claims) ([]byte, error) {
	switch {
	case c.Type == "":
		return nil, errors.New("token: Sign: Claims.Type is required")
	case c.ExpiresAt.IsZero():
		return nil, errors.New("token: Sign: Claims.ExpiresAt is required")
	case c.Version < 0:
		return nil, errors.New("token: Sign: Claims.Version is negative")
	}
	if c.ID == "" {
		c.ID = NewID()
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = e.now()
	}
	w := newPayloadWriter()
	w.memberString("token_type", string(c.Type))
	w.memberInt("exp", c.ExpiresAt.Unix())
	w.memberInt("iat", c.IssuedAt.Unix())
	w.memberString("jti", c.ID)
	if !c.RefreshExpiresAt.IsZero() {
		w.memberInt("refresh_exp", c.RefreshExpiresAt.Unix())
	}
	if c.UserID != "" {
		// SimpleJWT 5.2 writes an integer id as a number; only canonical
		// decimal text is written as a number so the text round-trips.
		if n, err := strconv.ParseInt(c.UserID, 10, 64); err == nil && !e.userIDAsString && strconv.FormatInt(n, 10) == c.UserID {
			w.memberInt(e.userIDClaim, n)
		} else {
			w.memberString(e.userIDClaim, c.UserID)
		}
	}
	if c.SessionID != "" {
		w.memberString("sid", c.SessionID)
	}
	if c.Version > 0 {
		w.memberInt("ver", c.Version)
	}
	names := make([]string, 0, len(c.Extra))
	for name := range c.Extra {
		if !e.reserved(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		w.member(name, c.Extra[name])
	}
	if e.audience != "" {
		w.memberString("aud", e.audience)
	}
	if e.issuer != "" {
		w.memberString("iss", e.issuer)
	}
	return w.finish()
}

// payloadWriter builds a JSON object member by member, in order.
type payloadWriter struct {
	out, tmp bytes.Buffer
	enc      *json.Encoder
	err      error
}

func newPayloadWriter() *payloadWriter {
	w := &payloadWriter{}
	w.out.Grow(256)
	w.out.WriteByte('{')
	return w
}

func (w *payloadWriter) member(name string, value any) {
	w.name(name)
	w.value(value)
}

// memberString and memberInt are member for the registered claims' types,
// without boxing the value in an interface (an allocation each).
func (w *payloadWriter) memberString(name, value string) {
	w.name(name)
	w.string(value)
}

func (w *payloadWriter) memberInt(name string, value int64) {
	w.name(name)
	w.int(value)
}

// name writes the separator before a member, its name and the colon.
func (w *payloadWriter) name(name string) {
	if w.out.Len() > 1 {
		w.out.WriteByte(',')
	}
	w.string(name)
	w.out.WriteByte(':')
}

// value writes v: names, ids and numbers, nearly every value, as they are;
// the rest through the encoder, with the escaping Python does.
func (w *payloadWriter) value(v any) {
	switch v := v.(type) {
	case string:
		w.string(v)
	case int64:
		w.int(v)
	default:
		w.encode(v)
	}
}

func (w *payloadWriter) string(s string) {
	if w.err != nil {
		return
	}
	if !printableASCII(s) {
		w.encode(s)
		return
	}
	w.out.WriteByte('"')
	w.out.WriteString(s)
	w.out.WriteByte('"')
}

func (w *payloadWriter) int(n int64) {
	if w.err == nil {
		w.out.Write(strconv.AppendInt(w.out.AvailableBuffer(), n, 10))
	}
}

func (w *payloadWriter) encode(v any) {
	if w.err != nil {
		return
	}
	if w.enc == nil {
		w.enc = json.NewEncoder(&w.tmp)
		w.enc.SetEscapeHTML(false) // Python does not escape <, > and &
	}
	w.tmp.Reset()
	if err := w.enc.Encode(v); err != nil {
		w.err = fmt.Errorf("token: Sign: encode claim value of type %T: %w", v, err)
		return
	}
	appendASCII(&w.out, bytes.TrimSuffix(w.tmp.Bytes(), []byte("\n")))
}

// printableASCII reports whether s needs no escaping in JSON, as Python
// writes it: printable ASCII but the quote and the backslash.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (w *payloadWriter) finish() ([]byte, error) {
	w.out.WriteByte('}')
	return w.out.Bytes(), w.err
}

// appendASCII copies JSON text, escaping non-ASCII runes as \uXXXX (surrogate
// pairs above U+FFFF) as Python's json.dumps(ensure_ascii=True) does. In
// encoding/json's output non-ASCII text occurs only inside strings.
func appendASCII(dst *bytes.Buffer, src []byte) {
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		src = src[size:]
		switch {
		case r < utf8.RuneSelf:
			dst.WriteByte(byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(dst, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(dst, `\u%04x`, r)
		}
	}
}

// payload is the token body as golang-jwt sees it while verifying: the raw
// members, with the registered dates and aud/iss decoded for its validator.
type payload struct {
	raw           map[string]json.RawMessage
	exp, iat, nbf *jwt.NumericDate
	aud           jwt.ClaimStrings
	iss           string
}

var _ jwt.Claims = (*payload)(nil)

// UnmarshalJSON is called by golang-jwt for any JSON value but null (which
// leaves raw nil). Type errors here make the token malformed.
func (p *payload) UnmarshalJSON(b []byte) error {
	raw, ok := members(b)
	if !ok {
		return errors.New("payload is not a JSON object")
	}
	p.raw = raw
	var err error
	if p.exp, err = p.date("exp"); err != nil {
		return err
	}
	if p.iat, err = p.date("iat"); err != nil {
		return err
	}
	if p.nbf, err = p.date("nbf"); err != nil {
		return err
	}
	if r, ok := p.raw["aud"]; ok {
		if err := p.aud.UnmarshalJSON(r); err != nil {
			return errors.New("aud is neither a string nor a list of strings")
		}
	}
	if r, ok := p.raw["iss"]; ok {
		if p.iss, ok = stringValue(r); !ok {
			return errors.New("iss is not a string")
		}
	}
	return nil
}

// date decodes a NumericDate claim, nil if absent. Like PyJWT (int(exp)) it
// drops the fraction of a second.
func (p *payload) date(name string) (*jwt.NumericDate, error) {
	r, ok := p.raw[name]
	if !ok {
		return nil, nil
	}
	if n, ok := smallUint(r); ok {
		// What NumericDate's UnmarshalJSON makes of it (an integer of at
		// most 15 digits is exact as the float64 it goes through), without
		// decoding it a second time.
		return jwt.NewNumericDate(time.Unix(n, 0)), nil
	}
	d := new(jwt.NumericDate)
	if err := d.UnmarshalJSON(r); err != nil {
		return nil, fmt.Errorf("%s is not a number", name)
	}
	return d, nil
}

// smallUint reads r as an integer of 1 to 15 decimal digits and nothing
// else.
func smallUint(r []byte) (int64, bool) {
	if len(r) == 0 || len(r) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range r {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func (p *payload) GetExpirationTime() (*jwt.NumericDate, error) { return p.exp, nil }
func (p *payload) GetIssuedAt() (*jwt.NumericDate, error)       { return p.iat, nil }
func (p *payload) GetNotBefore() (*jwt.NumericDate, error)      { return p.nbf, nil }
func (p *payload) GetIssuer() (string, error)                   { return p.iss, nil }
func (p *payload) GetSubject() (string, error)                  { return "", nil }
func (p *payload) GetAudience() (jwt.ClaimStrings, error)       { return p.aud, nil }

// claims applies SimpleJWT's checks, in its order, to a verified payload and
// converts it.
func (e *Engine) claims(p *payload, want Type) (*Claims, error) {
	if p.raw == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrInvalid)
	}
	// PyJWT rejects a token that names an audience when none is expected.
	if e.audience == "" && len(p.aud) > 0 {
		return nil, fmt.Errorf("%w: unexpected audience", ErrInvalid)
	}
	if p.exp == nil {
		return nil, ErrNoExp
	}
	c := &Claims{ExpiresAt: p.exp.Time}
	if p.iat != nil {
		c.IssuedAt = p.iat.Time
	}
	if r, ok := p.raw["jti"]; !ok {
		return nil, ErrNoID
	} else if c.ID, ok = stringValue(r); !ok {
		return nil, fmt.Errorf("%w: jti is not a string", ErrInvalid)
	} else if c.ID == "" {
		return nil, fmt.Errorf("%w: empty jti", ErrNoID)
	}
	if r, ok := p.raw["token_type"]; ok {
		if s, ok := stringValue(r); ok {
			c.Type = Type(s)
		}
		if want != "" && c.Type != want {
			return nil, ErrWrongType
		}
	} else if want != "" {
		return nil, ErrNoType
	}
	if _, ok := p.raw["refresh_exp"]; !ok && want == Sliding {
		return nil, ErrNoRefreshExp
	}
	if d, err := p.date("refresh_exp"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	} else if d != nil {
		c.RefreshExpiresAt = d.Time
	}
	if r, ok := p.raw["sid"]; ok {
		if c.SessionID, ok = stringValue(r); !ok {
			return nil, fmt.Errorf("%w: sid is not a string", ErrInvalid)
		}
	}
	if r, ok := p.raw["ver"]; ok {
		n, ok := smallUint(r)
		if !ok {
			v, isNumber := decodeAny(r).(json.Number)
			var err error
			n, err = v.Int64()
			if !isNumber || err != nil || n < 0 {
				return nil, fmt.Errorf("%w: ver is not a non-negative integer", ErrInvalid)
			}
		}
		c.Version = n
	}
	if r, ok := p.raw[e.userIDClaim]; ok {
		if _, ok := smallUint(r); ok {
			// Digits (valid JSON: no leading zero) are the id as written.
			c.UserID = string(r)
		} else {
			switch v := decodeAny(r).(type) {
			case string:
				c.UserID = v
			case json.Number:
				if n, err := v.Int64(); err == nil {
					c.UserID = strconv.FormatInt(n, 10)
				}
			}
		}
	}
	for name, r := range p.raw {
		if e.reserved(name) {
			continue
		}
		if c.Extra == nil {
			c.Extra = make(map[string]any, len(p.raw))
		}
		c.Extra[name] = decodeAny(r)
	}
	return c, nil
}

// decodeAny decodes one already validated JSON value, numbers as
// json.Number. Scalars, the usual case, skip json.Decoder and its buffer.
func decodeAny(r json.RawMessage) any {
	r = bytes.TrimSpace(r)
	switch {
	case len(r) == 0:
		return nil
	case r[0] == '-' || r[0] >= '0' && r[0] <= '9':
		return json.Number(r)
	case r[0] == '"':
		s, _ := unquoteString(r)
		return s
	case r[0] == 't' || r[0] == 'f':
		return r[0] == 't'
	case r[0] == 'n':
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v) // r was checked by the payload's decoding
	return v
}
