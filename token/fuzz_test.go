package token_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/token"
)

var sentinels = []error{token.ErrInvalid, token.ErrNoExp, token.ErrNoID, token.ErrNoType, token.ErrWrongType, token.ErrNoRefreshExp}

// FuzzParse checks that Parse never panics, fails only with its sentinel
// errors, and that what it accepts parses again the same and survives being
// signed again. Each input is tried as a token and, so that the fuzzer can
// reach the claim checks behind the signature, as a payload signed with the
// engine's secret.
func FuzzParse(f *testing.F) {
	ed := mustPrivatePEM(f, "EdDSA", "ed25519-pkcs8.pem")
	e := mustEngine(f, token.Options{SigningKey: mustHMAC(f, "HS256", djangoSecret), VerificationKeys: []*token.Key{ed}})
	edEngine := mustEngine(f, token.Options{SigningKey: ed})

	c := accessClaims()
	c.SessionID, c.Version, c.Extra = "s", 2, map[string]any{"username": "zoë", "n": 1.5, "list": []any{1, "a", nil}}
	sliding := accessClaims()
	sliding.Type, sliding.RefreshExpiresAt = token.Sliding, t0.Add(time.Hour)
	valid := mustSign(f, e, c)
	mint := func(payload string) string { return mintHS256(djangoSecret, simpleJWTHeader, payload) }
	for _, seed := range []string{
		valid,
		mustSign(f, e, sliding),
		mustSign(f, edEngine, c),
		valid[:len(valid)/2],
		valid[:strings.LastIndexByte(valid, '.')+1],
		valid + ".",
		"", ".", "..", "...", "a.b.c", "not a token", "\x00.\xff.\n",
		b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(valid, ".")[1] + ".",
		mint(`{"token_type":"access","exp":1700000300,"iat":1700000000,"jti":"a","user_id":1,"role":"admin"}`),
		mint(`{"token_type":"sliding","exp":1700000300,"jti":"a","refresh_exp":1.5e9,"user_id":"u"}`),
		mint(`{"token_type":"access","exp":1e300,"jti":"a"}`),
		mint(`{"token_type":"access","exp":"1700000300","jti":"a"}`),
		mint(`{"token_type":"access","exp":1700000300.9,"iat":-62135596800,"jti":"a","ver":0,"sid":""}`),
		mint(`{"exp":1700000300,"jti":"a","aud":["x"]}`),
		mint(`{"exp":1700000300}`),
		mint(`null`),
		mint(`{}`),
		mint(`[]`),
		`{"token_type":"refresh","exp":1700000300,"iat":1700000000,"jti":"a","user_id":"7","sid":"s","ver":3,"x":{"y":[1,2.5e3,"\u00e9"]}}`,
		`{"token_type":"sliding","exp":1700000300,"jti":"a","refresh_exp":1700000000}`,
		`{"token_type":"access","exp":1700000300,"jti":"a","user_id":-0}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		for _, raw := range []string{input, mint(input)} {
			checkParse(t, e, raw)
		}
	})
}

func checkParse(t *testing.T, e *token.Engine, raw string) {
	for _, want := range []token.Type{"", token.Access, token.Sliding} {
		got, err := e.Parse(raw, want)
		if err != nil {
			if got != nil {
				t.Fatalf("Parse returned claims and error %v", err)
			}
			if !isSentinel(err) {
				t.Fatalf("Parse error %v is none of the sentinels", err)
			}
			continue
		}
		if want != "" && got.Type != want {
			t.Fatalf("Parse(want %q) accepted type %q", want, got.Type)
		}
		again, err := e.Parse(raw, want)
		if err != nil {
			t.Fatalf("second Parse: %v", err)
		}
		if d := diffClaims(again, got); d != "" {
			t.Fatalf("second Parse differs: %s", d)
		}
		if got.Type == "" {
			continue // Sign requires a type
		}
		resigned, err := e.Sign(*got)
		if err != nil {
			t.Fatalf("Sign of accepted claims: %v", err)
		}
		back, err := e.Parse(resigned, "")
		if err != nil {
			t.Fatalf("Parse of re-signed claims: %v", err)
		}
		wantClaims := *got
		if wantClaims.IssuedAt.IsZero() {
			wantClaims.IssuedAt = t0 // Sign fills in the clock
		}
		if d := diffClaims(back, &wantClaims); d != "" {
			t.Fatalf("re-signed claims differ: %s", d)
		}
	}
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
