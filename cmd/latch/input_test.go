package main

// Bad input (SPEC §11): every case gets a clear JSON 4xx, the same on
// SQLite and on PostgreSQL, and nothing a client sends grows memory.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const bodyNullChars = `["Null characters are not allowed."]`

func TestNullCharactersAndBadUTF8(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		p := ts.mustLogin("alice")
		js := "application/json"
		form := "application/x-www-form-urlencoded"
		tests := []struct {
			name         string
			method, path string
			ctype, body  string
			header       []string
			wantStatus   int
			wantBody     string
		}{
			{"login: NUL in username", "POST", "/api/token/", js, `{"username":"ali\u0000ce","password":"x"}`, nil,
				400, `{"username":` + bodyNullChars + `}`},
			{"login: NUL in password", "POST", "/api/token/", js, `{"username":"alice","password":"` + testPassword + `\u0000"}`, nil,
				400, `{"password":` + bodyNullChars + `}`},
			{"login: NUL in a form field", "POST", "/api/token/", form, "username=alice%00&password=x", nil,
				400, `{"username":` + bodyNullChars + `}`},
			{"login form: both fields", "POST", "/api/token/", form, "username=%00a&password=%00b", nil,
				400, `{"username":` + bodyNullChars + `,"password":` + bodyNullChars + `}`},
			{"signup: NUL in username", "POST", "/api/signup/", js, `{"username":"bo\u0000b","password":"` + testPassword + `"}`, nil,
				400, `{"username":` + bodyNullChars + `}`},
			{"signup: NUL in password", "POST", "/api/signup/", js, `{"username":"bob","password":"` + testPassword + `\u0000"}`, nil,
				400, `{"password":` + bodyNullChars + `}`},
			{"signup: NUL in email", "POST", "/api/signup/", js, `{"username":"bob","password":"` + testPassword + `","email":"bob\u0000@example.com"}`, nil,
				400, `{"email":` + bodyNullChars + `}`},
			{"refresh: NUL in token", "POST", "/api/token/refresh/", js, `{"refresh":"a\u0000b"}`, nil,
				400, `{"refresh":` + bodyNullChars + `}`},
			{"login: body not UTF-8", "POST", "/api/token/", js, "{\"username\":\"\xff\",\"password\":\"x\"}", nil,
				400, `{"detail":"JSON parse error - 'utf-8' codec can't decode byte 0xff in position 13: invalid start byte"}`},
			{"signup: body with a broken sequence", "POST", "/api/signup/", js, "{\"username\":\"\xe6\x97\",\"password\":\"x\"}", nil,
				400, `{"detail":"JSON parse error - 'utf-8' codec can't decode bytes in position 13-14: invalid continuation byte"}`},
			{"refresh: a stray bracket after the object", "POST", "/api/token/refresh/", js, `{"refresh":"x"}]`, nil,
				400, `{"detail":"JSON parse error - Extra data"}`},
			{"login: a second closing brace", "POST", "/api/token/", js, `{"username":"alice","password":"x"}} `, nil,
				400, `{"detail":"JSON parse error - Extra data"}`},
			{"login: a byte-order mark", "POST", "/api/token/", js, "\ufeff{\"username\":\"alice\",\"password\":\"x\"}", nil,
				400, `{"detail":"JSON parse error - Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"}`},
			{"login: a letter where a value goes", "POST", "/api/token/", js, `{"username":é}`, nil,
				400, `{"detail":"JSON parse error - 'é' looking for beginning of value (char 13)"}`},
			{"delete session: NUL in the id", "DELETE", "/api/sessions/ab%00cd/", "", "", bearer(p.access),
				404, `{"detail":"Not found."}`},
			{"delete session: id not UTF-8", "DELETE", "/api/sessions/%ff%fe/", "", "", bearer(p.access),
				404, `{"detail":"Not found."}`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := ts.do(tt.method, tt.path, tt.ctype, tt.body, tt.header...)
				wantResponse(t, r, tt.wantStatus, tt.wantBody)
			})
		}
		t.Run("form values not UTF-8 are replaced, as Django does", func(t *testing.T) {
			wantResponse(t, ts.do("POST", "/api/token/", form, "username=alice%ff&password=x"), 401, bodyBadCredentials)
		})
	})
}

func TestUsernameLength(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		long := strings.Repeat("a", 151)
		bodyLong := `{"username":["Ensure this field has no more than 150 characters."]}`
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": long, "password": "x"}), 400, bodyLong)
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": strings.Repeat("é", 151), "password": "x"}), 400, bodyLong)
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": long, "password": testPassword}), 400, bodyLong)
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": long}), 400,
			`{"username":["Ensure this field has no more than 150 characters."],"password":["This field is required."]}`)
		// 150 characters are a username like any other.
		ok := strings.Repeat("é", 150)
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": ok, "password": testPassword}), 201, "")
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": ok, "password": testPassword}), 200, "")
	})
}

func TestUsernamesAreNFKCNormalized(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "alice", "password": testPassword}), 201, "")
		// Fullwidth "ａｌｉｃｅ" is "alice" under NFKC, as Django's normalize_username.
		wantResponse(t, ts.postJSON("/api/signup/", map[string]any{"username": "ａｌｉｃｅ", "password": testPassword}), 400,
			`{"username":["A user with that username already exists."]}`)
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "ａｌｉｃｅ", "password": testPassword}), 200, "")
		r := ts.postJSON("/api/signup/", map[string]any{"username": "ｂｏｂ", "password": testPassword})
		wantResponse(t, r, 201, "")
		if got := r.str(t, "username"); got != "bob" {
			t.Errorf("signup of ｂｏｂ stored %q, want bob", got)
		}
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "bob", "password": testPassword}), 200, "")
	})
}

func TestSessionUserAgentIsStorable(t *testing.T) {
	onEachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.mustUser("alice")
		tests := []struct {
			name, ua, want, device string
		}{
			{"not UTF-8", "curl/8 \xff\xfe", "curl/8 \uFFFD", "curl"},
			{"too long", strings.Repeat("x", 2000), strings.Repeat("x", 512), strings.Repeat("x", 64)},
			{"too long, cut inside a character", "x" + strings.Repeat("é", 600), "x" + strings.Repeat("é", 255), "x" + strings.Repeat("é", 31)},
			{"a browser", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
				"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := ts.do("POST", "/api/token/", "application/json",
					`{"username":"alice","password":"`+testPassword+`"}`, "User-Agent", tt.ua)
				wantResponse(t, r, 200, "")
				r = ts.do("GET", "/api/sessions/", "", "", bearer(r.str(t, "access"))...)
				wantResponse(t, r, 200, "")
				var list []struct {
					UserAgent string `json:"user_agent"`
					Device    string `json:"device"`
					Current   bool   `json:"current"`
				}
				if err := json.Unmarshal([]byte(r.body), &list); err != nil {
					t.Fatal(err)
				}
				for _, s := range list {
					if !s.Current {
						continue
					}
					if s.UserAgent != tt.want || len(s.UserAgent) > 512 || !utf8.ValidString(s.UserAgent) {
						t.Errorf("stored user agent %q (%d bytes), want %q", s.UserAgent, len(s.UserAgent), tt.want)
					}
					if s.Device != tt.device {
						t.Errorf("device %q, want %q", s.Device, tt.device)
					}
					return
				}
				t.Fatalf("no current session in %s", r.body)
			})
		}
	})
}

// TestBadInputStaysBounded: invented methods and huge usernames must not
// grow the heap or /metrics (before the fix: 170k methods took RSS from 22
// to 278 MB, and the failed-login guard kept every username sent).
func TestBadInputStaysBounded(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustUser("alice")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	send := func(req *http.Request) {
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// Warm up every route and pool once before measuring.
	ts.do("GET", "/api/me/", "", "")
	ts.do("POST", "/api/token/", "application/json", `{"username":"x","password":"y"}`)
	before := heap()

	for i := range 10_000 {
		req, err := http.NewRequest(fmt.Sprintf("M%05d", i), ts.URL+"/api/me/", nil)
		if err != nil {
			t.Fatal(err)
		}
		send(req)
	}
	const usernameLen = 60 << 10 // under the 64 KiB body limit
	for i := range 1_000 {
		name := fmt.Sprintf("%05d%s", i, strings.Repeat("u", usernameLen))
		req, err := http.NewRequest("POST", ts.URL+"/api/token/", strings.NewReader(`{"username":"`+name+`","password":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		send(req)
	}
	time.Sleep(10 * time.Millisecond) // let the last handlers return
	after := heap()

	// 1,000 kept usernames alone would be 60 MB; 10,000 series several.
	const maxGrowth = 8 << 20
	if after > before && after-before > maxGrowth {
		t.Errorf("heap grew by %d MiB (from %d to %d MiB), want under %d MiB",
			(after-before)>>20, before>>20, after>>20, maxGrowth>>20)
	}
	r := ts.do("GET", "/metrics", "", "")
	if len(r.body) > 64<<10 {
		t.Errorf("/metrics is %d KiB, want under 64 KiB", len(r.body)>>10)
	}
	if !strings.Contains(r.body, `method="other"`) || strings.Contains(r.body, `method="M00001"`) {
		t.Errorf("invented methods are not counted as other in /metrics")
	}
}
