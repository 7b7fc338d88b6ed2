package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The fast path for the engine's own tokens must accept exactly what
// golang-jwt's parser accepts, with the same claims; whatever it passes
// on, the parser decides.

var ownT0 = time.Unix(1700000000, 0)

func ownEngine(tb testing.TB, audience string) *Engine {
	tb.Helper()
	k, err := NewHMACKey("HS256", []byte("a test secret of enough length for HS256"))
	if err != nil {
		tb.Fatal(err)
	}
	e, err := New(Options{SigningKey: k, Audience: audience, Leeway: time.Second, Now: func() time.Time { return ownT0 }})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// mintOwn signs payload under e's own header, with the secret given.
func mintOwn(e *Engine, secret, payload string) string {
	s := e.header + "." + b64.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(s))
	return s + "." + b64.EncodeToString(mac.Sum(nil))
}

func checkSameAsGeneral(t *testing.T, e *Engine, raw string) {
	t.Helper()
	for _, want := range []Type{"", Access, Refresh, Sliding} {
		got, err := e.Parse(raw, want)
		wantClaims, wantErr := e.parseGeneral(raw, want)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("Parse(%q, %q): error %v, golang-jwt's path %v", raw, want, err, wantErr)
		}
		if err != nil {
			if err.Error() != wantErr.Error() {
				t.Fatalf("Parse(%q, %q): error %q, golang-jwt's path %q", raw, want, err, wantErr)
			}
			for _, s := range []error{ErrInvalid, ErrExpired, ErrNoExp, ErrNoID, ErrNoType, ErrWrongType, ErrNoRefreshExp} {
				if errors.Is(err, s) != errors.Is(wantErr, s) {
					t.Fatalf("Parse(%q, %q): errors.Is(%v) differs", raw, want, s)
				}
			}
			continue
		}
		if !reflect.DeepEqual(got, wantClaims) {
			t.Fatalf("Parse(%q, %q) = %+v, golang-jwt's path %+v", raw, want, got, wantClaims)
		}
	}
}

const ownSecret = "a test secret of enough length for HS256"

func TestParseOwnAgreesWithGolangJWT(t *testing.T) {
	e := ownEngine(t, "")
	aud := ownEngine(t, "api")
	signed, err := e.Sign(Claims{Type: Refresh, ID: "j", UserID: "7", SessionID: "s", Version: 2,
		IssuedAt: ownT0, ExpiresAt: ownT0.Add(time.Hour), Extra: map[string]any{"role": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := e.parseOwn(signed); p == nil {
		t.Fatal("the fast path refused a token Sign made")
	}
	dot := strings.LastIndexByte(signed, '.')
	mint := func(payload string) string { return mintOwn(e, ownSecret, payload) }
	cases := map[string]string{
		"signed":             signed,
		"signature altered":  signed[:dot+1] + strings.Repeat("A", len(signed)-dot-1),
		"signature cut":      signed[:len(signed)-2],
		"signature padded":   signed + "=",
		"fourth segment":     signed + ".x",
		"no signature":       signed[:dot],
		"other secret":       mintOwn(e, "another secret of enough length for HS256", `{"token_type":"access","exp":1700003600,"jti":"a","user_id":1}`),
		"access":             mint(`{"token_type":"access","exp":1700003600,"iat":1700000000,"jti":"a","user_id":1}`),
		"expired":            mint(`{"token_type":"access","exp":1699999000,"iat":1699990000,"jti":"a","user_id":1}`),
		"within leeway":      mint(`{"token_type":"access","exp":1700000000,"jti":"a","user_id":1}`),
		"not yet valid":      mint(`{"token_type":"access","exp":1700003600,"nbf":1700000100,"jti":"a"}`),
		"issued in future":   mint(`{"token_type":"access","exp":1700003600,"iat":1700000100,"jti":"a"}`),
		"float dates":        mint(`{"token_type":"access","exp":1700003600.75,"iat":1699999999.5,"jti":"a"}`),
		"exponent date":      mint(`{"token_type":"access","exp":1.7000036e9,"jti":"a"}`),
		"huge date":          mint(`{"token_type":"access","exp":1e300,"jti":"a"}`),
		"16 digit date":      mint(`{"token_type":"access","exp":1000000000000000,"jti":"a"}`),
		"negative date":      mint(`{"token_type":"access","exp":1700003600,"iat":-5,"jti":"a"}`),
		"string date":        mint(`{"token_type":"access","exp":"1700003600","jti":"a"}`),
		"aud unexpected":     mint(`{"token_type":"access","exp":1700003600,"jti":"a","aud":"api"}`),
		"no exp":             mint(`{"token_type":"access","jti":"a"}`),
		"sliding":            mint(`{"token_type":"sliding","exp":1700003600,"jti":"a","refresh_exp":1700007200}`),
		"duplicate exp":      mint(`{"token_type":"access","exp":1,"exp":1700003600,"jti":"a"}`),
		"whitespace":         mint(" {\n\"token_type\" : \"access\", \"exp\" : 1700003600 , \"jti\":\"a\"}\t"),
		"null":               mint(`null`),
		"array":              mint(`[]`),
		"not JSON":           mint(`{"token_type":`),
		"trailing data":      mint(`{"token_type":"access","exp":1700003600,"jti":"a"} {}`),
		"escaped names":      mint(`{"token_type":"acc\u0065ss","\u0065xp":1700003600,"jti":"a"}`),
		"simplejwt header":   mintHS256ForTest(ownSecret, `{"alg":"HS256","typ":"JWT"}`, `{"token_type":"access","exp":1700003600,"jti":"a"}`),
		"payload not base64": e.header + ".%%%." + signed[dot+1:],
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) { checkSameAsGeneral(t, e, raw) })
	}
	t.Run("decided on the fast path", func(t *testing.T) {
		// An expired token of ours is refused without golang-jwt's second
		// look; checkSameAsGeneral above holds the error to its.
		if p, err := e.parseOwn(cases["expired"]); p != nil || !errors.Is(err, ErrExpired) {
			t.Errorf("parseOwn(expired) = %v, %v; want ErrExpired", p, err)
		}
	})
	t.Run("audience", func(t *testing.T) {
		for _, payload := range []string{
			`{"token_type":"access","exp":1700003600,"jti":"a","aud":"api"}`,
			`{"token_type":"access","exp":1700003600,"jti":"a","aud":["x","api"]}`,
			`{"token_type":"access","exp":1700003600,"jti":"a","aud":"other"}`,
			`{"token_type":"access","exp":1700003600,"jti":"a"}`,
		} {
			checkSameAsGeneral(t, aud, mintOwn(aud, ownSecret, payload))
		}
	})
}

func mintHS256ForTest(secret, header, payload string) string {
	s := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(s))
	return s + "." + b64.EncodeToString(mac.Sum(nil))
}

func FuzzParseOwn(f *testing.F) {
	for _, seed := range []string{
		`{"token_type":"refresh","exp":1700003600,"iat":1700000000,"jti":"a","user_id":7,"sid":"s","ver":3}`,
		`{"token_type":"access","exp":1700003600.5,"jti":"a","aud":["x"]}`,
		`{"exp":17000036000000000}`, `{"exp":01}`, `{"exp":-1}`, `null`, `{}`, `{"a":1} x`,
	} {
		f.Add(seed, false)
	}
	e := ownEngine(f, "")
	f.Fuzz(func(t *testing.T, payload string, raw bool) {
		if raw {
			// The whole token from the fuzzer, under our header.
			checkSameAsGeneral(t, e, e.header+"."+payload)
			return
		}
		checkSameAsGeneral(t, e, mintOwn(e, ownSecret, payload))
	})
}

// Every HMAC signing key takes the fast path, with an issuer and an
// audience configured too.
func TestParseOwnTakesEveryHMACKey(t *testing.T) {
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		k, err := NewHMACKey(alg, []byte(ownSecret+" and then some more for the longer hashes"))
		if err != nil {
			t.Fatal(err)
		}
		for _, iss := range []string{"", "https://auth.example.com"} {
			e, err := New(Options{SigningKey: k, Issuer: iss, Audience: "api", Now: func() time.Time { return ownT0 }})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := e.Sign(Claims{Type: Access, ID: "j", UserID: "1", IssuedAt: ownT0, ExpiresAt: ownT0.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := e.parseOwn(raw); p == nil {
				t.Errorf("%s, issuer %q: the fast path refused a token Sign made", alg, iss)
			}
			checkSameAsGeneral(t, e, raw)
		}
	}
}
