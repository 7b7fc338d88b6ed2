package token_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/token"
)

// diffClaims describes how got differs from want, "" if it does not.
func diffClaims(got, want *token.Claims) string {
	var d []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s: got %v, want %v", name, g, w))
		}
	}
	check("Type", got.Type == want.Type, got.Type, want.Type)
	check("ID", got.ID == want.ID, got.ID, want.ID)
	check("UserID", got.UserID == want.UserID, got.UserID, want.UserID)
	check("SessionID", got.SessionID == want.SessionID, got.SessionID, want.SessionID)
	check("Version", got.Version == want.Version, got.Version, want.Version)
	check("IssuedAt", got.IssuedAt.Equal(want.IssuedAt), got.IssuedAt, want.IssuedAt)
	check("ExpiresAt", got.ExpiresAt.Equal(want.ExpiresAt), got.ExpiresAt, want.ExpiresAt)
	check("RefreshExpiresAt", got.RefreshExpiresAt.Equal(want.RefreshExpiresAt), got.RefreshExpiresAt, want.RefreshExpiresAt)
	check("Extra", fmt.Sprint(got.Extra) == fmt.Sprint(want.Extra), got.Extra, want.Extra)
	return strings.Join(d, "; ")
}

func segment(tb testing.TB, raw string, i int) string {
	tb.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d segments, want 3", len(parts))
	}
	b, err := b64.DecodeString(parts[i])
	if err != nil {
		tb.Fatalf("segment %d: %v", i, err)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range token.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			key := testKey(t, alg)
			e := mustEngine(t, token.Options{SigningKey: key})
			if got := e.Algorithm(); got != alg {
				t.Errorf("Algorithm() = %q, want %q", got, alg)
			}
			full := accessClaims()
			full.SessionID, full.Version = "sess-1", 3
			full.Extra = map[string]any{"username": "alice", "role": "admin", "n": json.Number("7")}
			sliding := accessClaims()
			sliding.Type, sliding.RefreshExpiresAt = token.Sliding, t0.Add(24*time.Hour)
			refresh := accessClaims()
			refresh.Type, refresh.UserID = token.Refresh, "8f14e45f-ceea-467f-a0e6-6b1a1e4d3f1b"
			for _, c := range []token.Claims{full, sliding, refresh} {
				t.Run(string(c.Type), func(t *testing.T) {
					raw := mustSign(t, e, c)
					wantHeader := fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, alg, key.ID)
					if got := segment(t, raw, 0); got != wantHeader {
						t.Errorf("header = %s, want %s", got, wantHeader)
					}
					got, err := e.Parse(raw, c.Type)
					if err != nil {
						t.Fatalf("Parse: %v", err)
					}
					if d := diffClaims(got, &c); d != "" {
						t.Error(d)
					}
				})
			}
		})
	}
}

func TestClaimsLayout(t *testing.T) {
	const head = `{"token_type":"access","exp":1700000300,"iat":1700000000,"jti":"0123456789abcdef0123456789abcdef"`
	tests := []struct {
		name string
		opts token.Options
		edit func(*token.Claims)
		want string
	}{
		{"access as SimpleJWT 5.2.2", token.Options{}, nil, head + `,"user_id":42}`},
		{
			"custom claims sorted after the user id", token.Options{},
			func(c *token.Claims) { c.Extra = map[string]any{"username": "alice", "role": "admin"} },
			head + `,"user_id":42,"role":"admin","username":"alice"}`,
		},
		{
			"sliding: refresh_exp before the user id", token.Options{},
			func(c *token.Claims) { c.Type, c.RefreshExpiresAt = token.Sliding, t0.Add(time.Hour) },
			strings.Replace(head, "access", "sliding", 1) + `,"refresh_exp":1700003600,"user_id":42}`,
		},
		{
			"latch claims, then aud and iss last", token.Options{Audience: "api", Issuer: "latch"},
			func(c *token.Claims) {
				c.SessionID, c.Version, c.Extra = "s1", 3, map[string]any{"role": "admin"}
			},
			head + `,"user_id":42,"sid":"s1","ver":3,"role":"admin","aud":"api","iss":"latch"}`,
		},
		{"user id as string (SimpleJWT 5.5)", token.Options{UserIDAsString: true}, nil, head + `,"user_id":"42"}`},
		{"custom user id claim", token.Options{UserIDClaim: "uid"}, nil, head + `,"uid":42}`},
		{"non-numeric user id", token.Options{}, func(c *token.Claims) { c.UserID = "ab-12" }, head + `,"user_id":"ab-12"}`},
		{"non-canonical numeric user id stays text", token.Options{}, func(c *token.Claims) { c.UserID = "007" }, head + `,"user_id":"007"}`},
		{"no user id", token.Options{}, func(c *token.Claims) { c.UserID = "" }, head + `}`},
		{
			"escaped like Python's json.dumps", token.Options{},
			func(c *token.Claims) { c.Extra = map[string]any{"name": "Zoë <b>&\"😀\n"} },
			head + `,"user_id":42,"name":"Zo\u00eb <b>&\"\ud83d\ude00\n"}`,
		},
		{
			"reserved names in Extra are ignored", token.Options{},
			func(c *token.Claims) {
				c.Extra = map[string]any{"exp": 1, "iat": 1, "jti": "x", "token_type": "refresh", "user_id": 7,
					"sid": "x", "ver": 9, "refresh_exp": 1, "aud": "evil", "iss": "evil", "nbf": 1}
			},
			head + `,"user_id":42}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.SigningKey = mustHMAC(t, "HS256", djangoSecret)
			e := mustEngine(t, tt.opts)
			c := accessClaims()
			if tt.edit != nil {
				tt.edit(&c)
			}
			raw := mustSign(t, e, c)
			if got := segment(t, raw, 1); got != tt.want {
				t.Errorf("payload\n got %s\nwant %s", got, tt.want)
			}
			if got, want := segment(t, raw, 0), `{"alg":"HS256","kid":"da3ed5f3e985ecfc","typ":"JWT"}`; got != want {
				t.Errorf("header = %s, want %s", got, want)
			}
		})
	}
}

func TestSignDefaultsAndErrors(t *testing.T) {
	e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret)})
	c := accessClaims()
	c.ID, c.IssuedAt = "", time.Time{}
	got, err := e.Parse(mustSign(t, e, c), token.Access)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(got.ID) != 32 || strings.Trim(got.ID, "0123456789abcdef") != "" {
		t.Errorf("generated jti = %q, want 32 lowercase hex digits", got.ID)
	}
	if !got.IssuedAt.Equal(t0) {
		t.Errorf("default iat = %v, want the engine clock %v", got.IssuedAt, t0)
	}

	tests := []struct {
		name string
		edit func(*token.Claims)
	}{
		{"no type", func(c *token.Claims) { c.Type = "" }},
		{"no expiry", func(c *token.Claims) { c.ExpiresAt = time.Time{} }},
		{"negative version", func(c *token.Claims) { c.Version = -1 }},
		{"unencodable extra claim", func(c *token.Claims) { c.Extra = map[string]any{"f": func() {}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := accessClaims()
			tt.edit(&c)
			if raw, err := e.Sign(c); err == nil {
				t.Errorf("Sign = %q, nil; want an error", raw)
			}
		})
	}
}

func TestNewIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := token.NewID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("NewID() = %q, want 32 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

// TestSimpleJWTInterop checks tokens both ways with a plain HMAC-SHA256, as
// PyJWT computes it.
func TestSimpleJWTInterop(t *testing.T) {
	e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret)})
	const jti = "3f6c1b1e9a7d4c2b8e5f0a1d2c3b4a59"
	tests := []struct {
		name    string
		payload string
		want    token.Claims
	}{
		{
			"access with custom claims",
			`{"token_type":"access","exp":1700000300,"iat":1700000000,"jti":"` + jti + `","user_id":1,"username":"alice","role":"admin"}`,
			token.Claims{Type: token.Access, ID: jti, UserID: "1", IssuedAt: t0, ExpiresAt: t0.Add(300 * time.Second),
				Extra: map[string]any{"username": "alice", "role": "admin"}},
		},
		{
			"refresh",
			`{"token_type":"refresh","exp":1701209600,"iat":1700000000,"jti":"` + jti + `","user_id":1}`,
			token.Claims{Type: token.Refresh, ID: jti, UserID: "1", IssuedAt: t0, ExpiresAt: t0.Add(14 * 24 * time.Hour)},
		},
		{
			"sliding",
			`{"token_type":"sliding","exp":1700000300,"iat":1700000000,"jti":"` + jti + `","refresh_exp":1700086400,"user_id":1}`,
			token.Claims{Type: token.Sliding, ID: jti, UserID: "1", IssuedAt: t0, ExpiresAt: t0.Add(300 * time.Second),
				RefreshExpiresAt: t0.Add(24 * time.Hour)},
		},
		{
			"string user id (SimpleJWT 5.5)",
			`{"token_type":"access","exp":1700000300,"iat":1700000000,"jti":"` + jti + `","user_id":"1"}`,
			token.Claims{Type: token.Access, ID: jti, UserID: "1", IssuedAt: t0, ExpiresAt: t0.Add(300 * time.Second)},
		},
	}
	for _, tt := range tests {
		t.Run("SimpleJWT to latch: "+tt.name, func(t *testing.T) {
			got, err := e.Parse(mintHS256(djangoSecret, simpleJWTHeader, tt.payload), tt.want.Type)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := diffClaims(got, &tt.want); d != "" {
				t.Error(d)
			}
		})
	}

	t.Run("latch to SimpleJWT", func(t *testing.T) {
		raw := mustSign(t, e, accessClaims())
		i := strings.LastIndexByte(raw, '.')
		mac := hmac.New(sha256.New, []byte(djangoSecret))
		mac.Write([]byte(raw[:i]))
		if got, want := raw[i+1:], b64.EncodeToString(mac.Sum(nil)); got != want {
			t.Errorf("signature = %s, want HMAC-SHA256 of the first two segments %s", got, want)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(segment(t, raw, 1)), &p); err != nil {
			t.Fatal(err)
		}
		for _, claim := range []string{"token_type", "exp", "iat", "jti", "user_id"} {
			if _, ok := p[claim]; !ok {
				t.Errorf("payload lacks %q, which SimpleJWT needs", claim)
			}
		}
	})
}

func TestParseErrors(t *testing.T) {
	e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret)})
	const jti = `"jti":"0123456789abcdef0123456789abcdef"`
	mint := func(payload string) string { return mintHS256(djangoSecret, simpleJWTHeader, payload) }
	withHeader := func(header, payload string) string { return mintHS256(djangoSecret, header, payload) }
	good := `{"token_type":"access","exp":1700000300,"iat":1700000000,` + jti + `,"user_id":1}`
	valid := mint(good)
	parts := strings.Split(valid, ".")
	sig := []byte(parts[2])
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}

	tests := []struct {
		name    string
		raw     string
		want    token.Type
		wantErr error
		notErr  error // must not match
	}{
		{"garbage", "not a token", token.Access, token.ErrInvalid, nil},
		{"empty", "", token.Access, token.ErrInvalid, nil},
		{"one segment", parts[0], token.Access, token.ErrInvalid, nil},
		{"two segments", parts[0] + "." + parts[1], token.Access, token.ErrInvalid, nil},
		{"four segments", valid + ".AAAA", token.Access, token.ErrInvalid, nil},
		{"trailing dot", valid + ".", token.Access, token.ErrInvalid, nil},
		{"padded base64", valid + "=", token.Access, token.ErrInvalid, nil},
		{"tampered payload", parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(good, `"user_id":1`, `"user_id":2`, 1))) + "." + parts[2], token.Access, token.ErrInvalid, nil},
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(sig), token.Access, token.ErrInvalid, nil},
		{"no signature", parts[0] + "." + parts[1] + ".", token.Access, token.ErrInvalid, nil},
		{"other secret", mintHS256("another secret", simpleJWTHeader, good), token.Access, token.ErrInvalid, nil},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", token.Access, token.ErrInvalid, nil},
		{"alg none with a signature", b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], token.Access, token.ErrInvalid, nil},
		{"alg not configured", withHeader(`{"alg":"HS384","typ":"JWT"}`, good), token.Access, token.ErrInvalid, nil},
		{"alg unknown", withHeader(`{"alg":"XX1","typ":"JWT"}`, good), token.Access, token.ErrInvalid, nil},
		{"no alg", withHeader(`{"typ":"JWT"}`, good), token.Access, token.ErrInvalid, nil},
		{"unknown kid", withHeader(`{"alg":"HS256","kid":"0000000000000000","typ":"JWT"}`, good), token.Access, token.ErrInvalid, nil},
		{"kid not a string", withHeader(`{"alg":"HS256","kid":7,"typ":"JWT"}`, good), token.Access, token.ErrInvalid, nil},
		{"header not JSON", withHeader(`{alg}`, good), token.Access, token.ErrInvalid, nil},
		{"header null", withHeader(`null`, good), token.Access, token.ErrInvalid, nil},
		{"payload not JSON", mint(`{exp}`), token.Access, token.ErrInvalid, nil},
		{"payload null", mint(`null`), token.Access, token.ErrInvalid, nil},
		{"payload array", mint(`[1,2]`), token.Access, token.ErrInvalid, nil},
		{"payload string", mint(`"exp"`), token.Access, token.ErrInvalid, nil},
		{"payload with trailing data", mint(good + `{}`), token.Access, token.ErrInvalid, nil},
		{"expired", mint(`{"token_type":"access","exp":1699999999,` + jti + `}`), token.Access, token.ErrExpired, nil},
		{"expires this second", mint(`{"token_type":"access","exp":1700000000,` + jti + `}`), token.Access, token.ErrExpired, nil},
		{"expired and bad signature", mintHS256("x", simpleJWTHeader, `{"exp":1,`+jti+`}`), token.Access, token.ErrInvalid, token.ErrExpired},
		{"not valid before", mint(`{"token_type":"access","exp":1700000300,"nbf":1700000060,` + jti + `}`), token.Access, token.ErrInvalid, token.ErrExpired},
		{"issued in the future", mint(`{"token_type":"access","exp":1700000300,"iat":1700000060,` + jti + `}`), token.Access, token.ErrInvalid, token.ErrExpired},
		{"exp not a number", mint(`{"token_type":"access","exp":"soon",` + jti + `}`), token.Access, token.ErrInvalid, nil},
		{"iat not a number", mint(`{"token_type":"access","exp":1700000300,"iat":[],` + jti + `}`), token.Access, token.ErrInvalid, nil},
		{"aud not configured", mint(`{"token_type":"access","exp":1700000300,"aud":"other",` + jti + `}`), token.Access, token.ErrInvalid, nil},
		{"empty object", mint(`{}`), token.Access, token.ErrNoExp, nil},
		{"no exp", mint(`{"token_type":"access",` + jti + `}`), token.Access, token.ErrNoExp, nil},
		{"no exp, no jti, no type: exp first", mint(`{"user_id":1}`), token.Access, token.ErrNoExp, nil},
		{"no jti", mint(`{"token_type":"access","exp":1700000300}`), token.Access, token.ErrNoID, nil},
		{"no jti, wrong type: jti first", mint(`{"token_type":"refresh","exp":1700000300}`), token.Access, token.ErrNoID, nil},
		{"empty jti", mint(`{"token_type":"access","exp":1700000300,"jti":""}`), token.Access, token.ErrNoID, nil},
		{"jti not a string", mint(`{"token_type":"access","exp":1700000300,"jti":5}`), token.Access, token.ErrInvalid, nil},
		{"no type", mint(`{"exp":1700000300,` + jti + `}`), token.Access, token.ErrNoType, nil},
		{"wrong type", mint(`{"token_type":"refresh","exp":1700000300,` + jti + `}`), token.Access, token.ErrWrongType, nil},
		{"access as refresh", valid, token.Refresh, token.ErrWrongType, nil},
		{"type not a string", mint(`{"token_type":1,"exp":1700000300,` + jti + `}`), token.Access, token.ErrWrongType, nil},
		{"sliding without refresh_exp", mint(`{"token_type":"sliding","exp":1700000300,` + jti + `}`), token.Sliding, token.ErrNoRefreshExp, nil},
		{"refresh_exp not a number", mint(`{"token_type":"sliding","exp":1700000300,"refresh_exp":"x",` + jti + `}`), token.Sliding, token.ErrInvalid, nil},
		{"sid not a string", mint(`{"token_type":"access","exp":1700000300,"sid":1,` + jti + `}`), token.Access, token.ErrInvalid, nil},
		{"negative ver", mint(`{"token_type":"access","exp":1700000300,"ver":-1,` + jti + `}`), token.Access, token.ErrInvalid, nil},
		{"fractional ver", mint(`{"token_type":"access","exp":1700000300,"ver":1.5,` + jti + `}`), token.Access, token.ErrInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Parse(tt.raw, tt.want)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse = %+v, %v; want %v", got, err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("Parse returned claims %+v with an error", got)
			}
			if tt.notErr != nil && errors.Is(err, tt.notErr) {
				t.Errorf("error %q matches %v, want it not to", err, tt.notErr)
			}
			for _, part := range strings.Split(tt.raw, ".") {
				if len(part) >= 8 && strings.Contains(err.Error(), part) {
					t.Errorf("error %q contains token text %q", err, part)
				}
			}
		})
	}
}

func TestUntypedParse(t *testing.T) {
	e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret)})
	for _, payload := range []string{
		`{"token_type":"refresh","exp":1700000300,"jti":"a"}`,
		`{"exp":1700000300,"jti":"a"}`, // the verify endpoint does not need a type
	} {
		if _, err := e.Parse(mintHS256(djangoSecret, simpleJWTHeader, payload), ""); err != nil {
			t.Errorf("Parse(%s, \"\") = %v, want nil", payload, err)
		}
	}
}

func TestLeeway(t *testing.T) {
	e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret), Leeway: 30 * time.Second})
	tests := []struct {
		name    string
		claims  string
		wantErr error
	}{
		{"expired 10s ago, within leeway", `"exp":1699999990`, nil},
		{"expired 29s ago, within leeway", `"exp":1699999971`, nil},
		{"expired 30s ago, beyond leeway", `"exp":1699999970`, token.ErrExpired},
		{"nbf 20s ahead, within leeway", `"exp":1700000300,"nbf":1700000020`, nil},
		{"nbf 31s ahead, beyond leeway", `"exp":1700000300,"nbf":1700000031`, token.ErrInvalid},
		{"iat 20s ahead, within leeway", `"exp":1700000300,"iat":1700000020`, nil},
		{"iat 31s ahead, beyond leeway", `"exp":1700000300,"iat":1700000031`, token.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mintHS256(djangoSecret, simpleJWTHeader, `{"token_type":"access",`+tt.claims+`,"jti":"a"}`)
			if _, err := e.Parse(raw, token.Access); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Parse error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRefreshExpired(t *testing.T) {
	tests := []struct {
		name   string
		leeway time.Duration
		at     time.Time
		want   bool
	}{
		{"ahead", 0, t0.Add(time.Second), false},
		{"now", 0, t0, true},
		{"passed", 0, t0.Add(-time.Second), true},
		{"passed within leeway", 10 * time.Second, t0.Add(-5 * time.Second), false},
		{"absent", 0, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret), Leeway: tt.leeway})
			if got := e.RefreshExpired(&token.Claims{RefreshExpiresAt: tt.at}); got != tt.want {
				t.Errorf("RefreshExpired = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAudienceIssuer(t *testing.T) {
	e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret), Audience: "api", Issuer: "latch"})
	tests := []struct {
		name    string
		claims  string
		wantErr error
	}{
		{"match", `"aud":"api","iss":"latch"`, nil},
		{"audience in a list", `"aud":["web","api"],"iss":"latch"`, nil},
		{"other audience", `"aud":"web","iss":"latch"`, token.ErrInvalid},
		{"no audience", `"iss":"latch"`, token.ErrInvalid},
		{"other issuer", `"aud":"api","iss":"evil"`, token.ErrInvalid},
		{"no issuer", `"aud":"api"`, token.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mintHS256(djangoSecret, simpleJWTHeader, `{"token_type":"access","exp":1700000300,"jti":"a",`+tt.claims+`}`)
			if _, err := e.Parse(raw, token.Access); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Parse error = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if _, err := e.Parse(mustSign(t, e, accessClaims()), token.Access); err != nil {
		t.Errorf("Parse of the engine's own token = %v, want nil", err)
	}
}

// TestAlgorithmConfusion signs HS256 tokens with the bytes of the RSA public
// key, the classic attack on verifiers that let the token pick the algorithm.
func TestAlgorithmConfusion(t *testing.T) {
	rsaKey := testKey(t, "RS256")
	pub := string(readFixture(t, "rsa2048-pub.pem"))
	payload := `{"token_type":"access","exp":1700000300,"jti":"a","user_id":1}`
	tests := []struct {
		name string
		opts token.Options
		raw  string
	}{
		{"RS256 engine, no kid", token.Options{SigningKey: rsaKey}, mintHS256(pub, simpleJWTHeader, payload)},
		{"RS256 engine, RSA kid", token.Options{SigningKey: rsaKey}, mintHS256(pub, `{"alg":"HS256","kid":"`+rsaKey.ID+`","typ":"JWT"}`, payload)},
		{
			"HS256 and RS256 engine, RSA kid",
			token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret), VerificationKeys: []*token.Key{rsaKey}},
			mintHS256(pub, `{"alg":"HS256","kid":"`+rsaKey.ID+`","typ":"JWT"}`, payload),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEngine(t, tt.opts)
			if c, err := e.Parse(tt.raw, token.Access); !errors.Is(err, token.ErrInvalid) {
				t.Errorf("Parse = %+v, %v; want ErrInvalid", c, err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldKey := mustHMAC(t, "HS256", djangoSecret)
	otherOld := mustHMAC(t, "HS256", "an older secret")
	newKey := mustGenerate(t, "ES256")
	oldToken := mustSign(t, mustEngine(t, token.Options{SigningKey: oldKey}), accessClaims())
	simpleJWTToken := mintHS256("an older secret", simpleJWTHeader, `{"token_type":"access","exp":1700000300,"jti":"a"}`)

	rotated := mustEngine(t, token.Options{SigningKey: newKey, VerificationKeys: []*token.Key{oldKey, otherOld}})
	for name, raw := range map[string]string{
		"old key, by kid":               oldToken,
		"second HMAC key, without kid":  simpleJWTToken,
		"new key":                       mustSign(t, rotated, accessClaims()),
		"signing key listed twice, kid": mustSign(t, mustEngine(t, token.Options{SigningKey: newKey, VerificationKeys: []*token.Key{newKey}}), accessClaims()),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := rotated.Parse(raw, token.Access); err != nil {
				t.Errorf("Parse = %v, want nil", err)
			}
		})
	}
	t.Run("dropped key", func(t *testing.T) {
		e := mustEngine(t, token.Options{SigningKey: newKey})
		if _, err := e.Parse(oldToken, token.Access); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("Parse = %v, want ErrInvalid", err)
		}
	})
}

func TestNewErrors(t *testing.T) {
	hs := mustHMAC(t, "HS256", djangoSecret)
	clash := mustHMAC(t, "HS256", "other secret")
	clash.ID = hs.ID
	pubOnly, err := token.ParsePublicKeyPEM("ES256", readFixture(t, "ec-p256-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts token.Options
	}{
		{"no signing key", token.Options{}},
		{"zero key", token.Options{SigningKey: &token.Key{ID: "x", Algorithm: "HS256"}}},
		{"public signing key", token.Options{SigningKey: pubOnly}},
		{"nil verification key", token.Options{SigningKey: hs, VerificationKeys: []*token.Key{nil}}},
		{"kid clash", token.Options{SigningKey: hs, VerificationKeys: []*token.Key{clash}}},
		{"negative leeway", token.Options{SigningKey: hs, Leeway: -time.Second}},
		{"user id claim shadows exp", token.Options{SigningKey: hs, UserIDClaim: "exp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := token.New(tt.opts); err == nil {
				t.Errorf("New = %v, nil; want an error", e)
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	t.Run("HMAC only", func(t *testing.T) {
		e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret)})
		if got, want := string(e.JWKS()), `{"keys":[]}`; got != want {
			t.Errorf("JWKS = %s, want %s", got, want)
		}
	})

	es, ed, rs := mustGenerate(t, "ES256"), mustGenerate(t, "EdDSA"), testKey(t, "RS256")
	rsPub, err := token.ParsePublicKeyPEM("RS256", readFixture(t, "rsa2048-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	e := mustEngine(t, token.Options{
		SigningKey:       es,
		VerificationKeys: []*token.Key{mustHMAC(t, "HS512", djangoSecret), ed, rsPub},
	})
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(e.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not a key set: %v", err)
	}
	want := []struct {
		key    *token.Key
		kty    string
		fields []string
	}{
		{es, "EC", []string{"crv", "x", "y"}},
		{ed, "OKP", []string{"crv", "x"}},
		{rs, "RSA", []string{"n", "e"}},
	}
	if len(set.Keys) != len(want) {
		t.Fatalf("JWKS has %d keys, want %d (no HMAC key): %s", len(set.Keys), len(want), e.JWKS())
	}
	for i, w := range want {
		got := set.Keys[i]
		wantFields := append([]string{"kid", "kty", "alg", "use"}, w.fields...)
		if len(got) != len(wantFields) {
			t.Errorf("key %d has members %v, want exactly %v", i, slices.Collect(maps.Keys(got)), wantFields)
		}
		for _, f := range wantFields {
			if got[f] == "" {
				t.Errorf("key %d lacks %q", i, f)
			}
		}
		if got["kid"] != w.key.ID || got["alg"] != w.key.Algorithm || got["kty"] != w.kty || got["use"] != "sig" {
			t.Errorf("key %d = %v, want kid %s alg %s kty %s use sig", i, got, w.key.ID, w.key.Algorithm, w.kty)
		}
		// The published key must be the signing key: rebuild it from the JWK
		// and check that it verifies the key's tokens.
		pub := publicKeyFromJWK(t, got)
		v := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", "x"), VerificationKeys: []*token.Key{pub}})
		if w.key.CanSign() {
			signer := mustEngine(t, token.Options{SigningKey: w.key})
			if _, err := v.Parse(mustSign(t, signer, accessClaims()), token.Access); err != nil {
				t.Errorf("key %d: the published key does not verify its tokens: %v", i, err)
			}
		}
	}
	if mutated := e.JWKS(); len(mutated) > 0 {
		mutated[0] = 'X'
		if e.JWKS()[0] != '{' {
			t.Error("JWKS returns the engine's own buffer")
		}
	}
}

func BenchmarkSignHS256(b *testing.B) {
	e := mustEngine(b, token.Options{SigningKey: mustHMAC(b, "HS256", djangoSecret)})
	c := accessClaims()
	c.Extra = map[string]any{"username": "alice", "role": "admin"}
	for b.Loop() {
		if _, err := e.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHS256(b *testing.B) {
	e := mustEngine(b, token.Options{SigningKey: mustHMAC(b, "HS256", djangoSecret)})
	c := accessClaims()
	c.SessionID, c.Extra = "sess-1", map[string]any{"username": "alice", "role": "admin"}
	raw := mustSign(b, e, c)
	for b.Loop() {
		if _, err := e.Parse(raw, token.Access); err != nil {
			b.Fatal(err)
		}
	}
}

// The user id and ver claims in every form JSON allows: digits, the usual
// case, are read as written; the rest as encoding/json decodes them.
func TestParseUserIDAndVersion(t *testing.T) {
	e := mustEngine(t, token.Options{SigningKey: mustHMAC(t, "HS256", djangoSecret)})
	const head = `{"token_type":"access","exp":1700000300,"iat":1700000000,"jti":"j"`
	tests := []struct {
		members string
		userID  string
		ver     int64
		wantErr error
	}{
		{`,"user_id":42,"ver":3`, "42", 3, nil},
		{`,"user_id":0,"ver":0`, "0", 0, nil},
		{`,"user_id":"42"`, "42", 0, nil},
		{`,"user_id":"007"`, "007", 0, nil},
		{`,"user_id":-3`, "-3", 0, nil},
		{`,"user_id":123456789012345678`, "123456789012345678", 0, nil},
		{`,"user_id":4.5`, "", 0, nil},
		{`,"user_id":1e3`, "", 0, nil},
		{`,"user_id":null`, "", 0, nil},
		{`,"user_id":[1]`, "", 0, nil},
		{`,"ver":123456789012345678`, "", 123456789012345678, nil},
		{`,"ver":"3"`, "", 0, token.ErrInvalid},
		{`,"ver":1e2`, "", 0, token.ErrInvalid},
		{`,"ver":null`, "", 0, token.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.members, func(t *testing.T) {
			c, err := e.Parse(mintHS256(djangoSecret, simpleJWTHeader, head+tt.members+`}`), token.Access)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse: %v, want %v", err, tt.wantErr)
			}
			if err == nil && (c.UserID != tt.userID || c.Version != tt.ver) {
				t.Errorf("UserID, Version = %q, %d; want %q, %d", c.UserID, c.Version, tt.userID, tt.ver)
			}
		})
	}
}

// The next key is in the JWKS and verifies from the start, and signs from
// NextFrom on.
func TestEngineNextKey(t *testing.T) {
	current, next := mustGenerate(t, "ES256"), mustGenerate(t, "EdDSA")
	now := t0
	e := mustEngine(t, token.Options{SigningKey: current, NextKey: next, NextFrom: t0.Add(time.Minute), Now: func() time.Time { return now }})
	var jwks struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	if err := json.Unmarshal(e.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) != 2 || jwks.Keys[0].Kid != current.ID || jwks.Keys[1].Kid != next.ID {
		t.Fatalf("JWKS %s, want the current key and the next", e.JWKS())
	}
	kid := func(raw string) string {
		t.Helper()
		h, _, _ := strings.Cut(raw, ".")
		b, _ := base64.RawURLEncoding.DecodeString(h)
		var hdr struct{ Kid, Alg string }
		json.Unmarshal(b, &hdr)
		return hdr.Alg + " " + hdr.Kid
	}
	before := mustSign(t, e, accessClaims())
	if got := kid(before); got != "ES256 "+current.ID || e.Algorithm() != "ES256" {
		t.Fatalf("before NextFrom: signed by %s, Algorithm %s", got, e.Algorithm())
	}
	now = t0.Add(time.Minute)
	after := mustSign(t, e, accessClaims())
	if got := kid(after); got != "EdDSA "+next.ID || e.Algorithm() != "EdDSA" {
		t.Fatalf("at NextFrom: signed by %s, Algorithm %s", got, e.Algorithm())
	}
	now = t0 // both verify, whichever signs
	for _, raw := range []string{before, after} {
		if _, err := e.Parse(raw, token.Access); err != nil {
			t.Errorf("Parse(%s): %v", kid(raw), err)
		}
	}
	pub, err := token.ParsePublicKeyPEM("RS256", readFixture(t, "rsa2048-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.New(token.Options{SigningKey: current, NextKey: pub}); err == nil {
		t.Error("a next key without its private half was accepted")
	}
}
