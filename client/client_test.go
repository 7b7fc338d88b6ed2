package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/client"
)

// mustClient returns a Client of ls logged in as alice.
func mustClient(t *testing.T, ls *latchServer, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(ls.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(context.Background(), "alice", testPassword); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// answer is what a request through the client got.
type answer struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, c *client.Client, req *http.Request) (answer, error) {
	t.Helper()
	res, err := c.HTTPClient().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: res.StatusCode, body: string(b), header: res.Header}, nil
}

func mustGet(t *testing.T, c *client.Client, url string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := do(t, c, req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return a
}

func username(t *testing.T, a answer) string {
	t.Helper()
	var me struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal([]byte(a.body), &me); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return me.Username
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, base := range []string{"", "localhost:8000", "ftp://example.com", "http://", "://x"} {
		if _, err := client.New(base, client.Options{}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", base)
		}
	}
}

func TestLogin(t *testing.T) {
	ls := mustLatch(t)
	tests := []struct {
		name       string
		user, pass string
		wantStatus int // 0: success
		wantDetail string
	}{
		{name: "good credentials", user: "alice", pass: testPassword},
		{name: "wrong password", user: "alice", pass: "wrong password!", wantStatus: 401,
			wantDetail: "No active account found with the given credentials"},
		{name: "unknown user", user: "mallory", pass: testPassword, wantStatus: 401,
			wantDetail: "No active account found with the given credentials"},
		{name: "blank password", user: "alice", pass: "", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var persisted []string
			c, err := client.New(ls.URL, client.Options{OnTokens: func(a, r string) { persisted = append(persisted, a, r) }})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Login(context.Background(), tt.user, tt.pass)
			access, refresh := c.Tokens()
			if tt.wantStatus != 0 {
				var apiErr *client.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.wantStatus {
					t.Fatalf("Login = %v, want an *Error with status %d", err, tt.wantStatus)
				}
				if tt.wantDetail != "" && apiErr.Detail != tt.wantDetail {
					t.Errorf("detail = %q, want %q", apiErr.Detail, tt.wantDetail)
				}
				if access != "" || refresh != "" || persisted != nil {
					t.Errorf("tokens kept after a refused login: %q %q %q", access, refresh, persisted)
				}
				_, err := c.HTTPClient().Get(ls.URL + "/api/me/")
				if !errors.Is(err, client.ErrLoggedOut) {
					t.Errorf("GET /api/me/ without login: err = %v, want ErrLoggedOut", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if access == "" || refresh == "" {
				t.Fatalf("Tokens() = %q, %q; want both", access, refresh)
			}
			if len(persisted) != 2 || persisted[0] != access || persisted[1] != refresh {
				t.Errorf("OnTokens got %q, want the pair", persisted)
			}
			me := mustGet(t, c, ls.URL+"/api/me/")
			if me.status != http.StatusOK || username(t, me) != "alice" {
				t.Errorf("GET /api/me/ = %d %s, want 200 alice", me.status, me.body)
			}
		})
	}
}

func TestBaseURLWithPath(t *testing.T) {
	ls := mustLatch(t)
	// latch mounted under a prefix, as a reverse proxy would: /auth/api/…
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", proxyTo(t, ls.URL)))
	front := httptest.NewServer(mux)
	defer front.Close()
	c, err := client.New(front.URL+"/auth", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(context.Background(), "alice", testPassword); err != nil {
		t.Fatalf("login under /auth: %v", err)
	}
	if me := mustGet(t, c, front.URL+"/auth/api/me/"); me.status != http.StatusOK {
		t.Errorf("GET /auth/api/me/ = %d %s", me.status, me.body)
	}
}

// proxyTo forwards requests to target.
func proxyTo(t *testing.T, target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		out.Header = r.Header.Clone()
		res, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	})
}

func TestTransparentRefresh(t *testing.T) {
	ls := mustLatch(t)
	var mu sync.Mutex
	var persisted [][2]string
	c := mustClient(t, ls, client.Options{OnTokens: func(a, r string) {
		mu.Lock()
		persisted = append(persisted, [2]string{a, r})
		mu.Unlock()
	}})
	access1, refresh1 := c.Tokens()
	if got := mustGet(t, c, ls.URL+"/api/orders/"); !strings.Contains(got.body, `"cached":false`) {
		t.Fatalf("first GET /api/orders/ = %d %s, want cached false", got.status, got.body)
	}
	if got := mustGet(t, c, ls.URL+"/api/orders/"); !strings.Contains(got.body, `"cached":true`) {
		t.Fatalf("second GET /api/orders/ = %d %s, want cached true", got.status, got.body)
	}

	ls.Clock.Advance(2 * accessLifetime) // the access token expires
	before := ls.unauthorized.Load()
	me := mustGet(t, c, ls.URL+"/api/me/")
	if me.status != http.StatusOK || username(t, me) != "alice" {
		t.Fatalf("GET /api/me/ after expiry = %d %s, want 200 alice", me.status, me.body)
	}
	if got := ls.unauthorized.Load() - before; got != 1 {
		t.Errorf("server answered %d 401s, want 1 (the expired token)", got)
	}
	if got := ls.refreshes.Load(); got != 1 {
		t.Errorf("refreshes = %d, want 1", got)
	}
	access2, refresh2 := c.Tokens()
	if access2 == access1 || refresh2 == refresh1 || refresh2 == "" {
		t.Errorf("tokens after refresh: access changed %v, refresh rotated %v", access2 != access1, refresh2 != refresh1)
	}
	mu.Lock()
	if n := len(persisted); n != 2 || persisted[1] != [2]string{access2, refresh2} {
		t.Errorf("OnTokens calls = %d, last %v; want 2, the rotated pair", n, persisted[n-1])
	}
	mu.Unlock()
	// The refresh dropped the session's cache (seed 000).
	if got := mustGet(t, c, ls.URL+"/api/orders/"); !strings.Contains(got.body, `"cached":false`) {
		t.Errorf("GET /api/orders/ after refresh = %s, want cached false", got.body)
	}
	if got := ls.refreshes.Load(); got != 1 {
		t.Errorf("refreshes after a fresh token's request = %d, want still 1", got)
	}
}

func TestConcurrentExpiryRefreshesOnce(t *testing.T) {
	const n = 50
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	ls.Clock.Advance(2 * accessLifetime)
	// Hold the refresh until every goroutine has had its 401, so all of
	// them are after a refresh at the same time.
	base := ls.unauthorized.Load()
	ls.beforeRefresh = func() {
		deadline := time.Now().Add(5 * time.Second)
		for ls.unauthorized.Load()-base < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			res, err := c.HTTPClient().Get(ls.URL + "/api/me/")
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"username":"alice"`) {
				errs <- errors.New(res.Status + " " + string(b))
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("GET /api/me/: %v", err)
	}
	if got := ls.unauthorized.Load() - base; got != n {
		t.Errorf("server answered %d 401s, want %d (one per goroutine, none after the refresh)", got, n)
	}
	if got := ls.refreshes.Load(); got != 1 {
		t.Errorf("refresh requests = %d, want exactly 1", got)
	}
}

func TestStaleTokenDoesNotRefreshAgain(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	stale := client.Generation(c)
	ls.Clock.Advance(2 * accessLifetime)
	if me := mustGet(t, c, ls.URL+"/api/me/"); me.status != http.StatusOK {
		t.Fatalf("GET /api/me/ = %d %s", me.status, me.body)
	}
	// A 401 that answered the old token arrives late: it gets the current
	// token, and nothing is sent.
	current, _ := c.Tokens()
	got, err := client.RefreshAccess(c, context.Background(), stale)
	if err != nil || got != current {
		t.Errorf("RefreshAccess(stale) = %.12q…, %v; want the current token", got, err)
	}
	if n := ls.refreshes.Load(); n != 1 {
		t.Errorf("refreshes = %d, want 1", n)
	}
	// A 401 that answered the current token does refresh.
	if _, err := client.RefreshAccess(c, context.Background(), client.Generation(c)); err != nil {
		t.Fatal(err)
	}
	if n := ls.refreshes.Load(); n != 2 {
		t.Errorf("refreshes = %d, want 2", n)
	}
}

func TestRefreshRefused(t *testing.T) {
	tests := []struct {
		name string
		// revoke ends the session of c some way other than c.Logout.
		revoke func(t *testing.T, ls *latchServer, c *client.Client)
	}{
		{"logged out by another holder of the tokens", func(t *testing.T, ls *latchServer, c *client.Client) {
			other, err := client.New(ls.URL, client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			other.SetTokens(c.Tokens())
			if err := other.Logout(context.Background()); err != nil {
				t.Fatalf("other.Logout: %v", err)
			}
		}},
		{"refresh token expired", func(t *testing.T, ls *latchServer, c *client.Client) {
			ls.Clock.Advance(15 * 24 * time.Hour)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := mustLatch(t)
			var last [2]string
			c := mustClient(t, ls, client.Options{OnTokens: func(a, r string) { last = [2]string{a, r} }})
			tt.revoke(t, ls, c)
			refreshes := ls.refreshes.Load()
			// The request that found the session gone fails as the
			// following ones do, with the server's refusal inside.
			_, err := c.HTTPClient().Get(ls.URL + "/api/me/")
			var refused *client.Error
			if !errors.Is(err, client.ErrLoggedOut) || !errors.As(err, &refused) || refused.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/me/: err = %v, want ErrLoggedOut with the refresh's 401", err)
			}
			if got := ls.refreshes.Load() - refreshes; got != 1 {
				t.Errorf("refresh requests = %d, want 1", got)
			}
			if a, r := c.Tokens(); a != "" || r != "" {
				t.Errorf("tokens kept after a refused refresh")
			}
			if last != [2]string{} {
				t.Errorf("OnTokens last got %q, want empty tokens", last)
			}
			requests := ls.requests.Load()
			if _, err := c.HTTPClient().Get(ls.URL + "/api/me/"); !errors.Is(err, client.ErrLoggedOut) {
				t.Errorf("next GET: err = %v, want ErrLoggedOut", err)
			}
			if got := ls.requests.Load(); got != requests {
				t.Errorf("a logged-out client sent %d requests", got-requests)
			}
			// Logging in again cures it.
			if err := c.Login(context.Background(), "alice", testPassword); err != nil {
				t.Fatal(err)
			}
			if me := mustGet(t, c, ls.URL+"/api/me/"); me.status != http.StatusOK {
				t.Errorf("GET /api/me/ after login = %d", me.status)
			}
		})
	}
}

// TestOtherUnauthorizedNotRefreshed: a 401 that refuses something other
// than the access token is handed back as it is, sent once, with no
// refresh: a wrong password sent through the client (twice, it would count
// twice against the account's failed logins), a bad token sent to verify.
func TestOtherUnauthorizedNotRefreshed(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	for _, tt := range []struct{ path, body, want string }{
		{"/api/token/", `{"username":"alice","password":"wrong"}`, `{"detail":"No active account found with the given credentials"}`},
		{"/api/token/verify/", `{"token":"garbage"}`, `{"detail":"Token is invalid or expired","code":"token_not_valid"}`},
	} {
		refreshes, requests := ls.refreshes.Load(), ls.requests.Load()
		req, err := http.NewRequest(http.MethodPost, ls.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		got, err := do(t, c, req)
		if err != nil || got.status != http.StatusUnauthorized || strings.TrimSpace(got.body) != tt.want {
			t.Errorf("POST %s = %d %s, %v; want 401 %s", tt.path, got.status, got.body, err, tt.want)
		}
		if n := ls.refreshes.Load() - refreshes; n != 0 {
			t.Errorf("POST %s: %d refreshes, want none", tt.path, n)
		}
		if n := ls.requests.Load() - requests; n != 1 {
			t.Errorf("POST %s: sent %d times, want once", tt.path, n)
		}
	}
	if me := mustGet(t, c, ls.URL+"/api/me/"); me.status != http.StatusOK {
		t.Errorf("GET /api/me/ after = %d %s", me.status, me.body)
	}
}

func TestLogout(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		wantRef int64
	}{
		{"fresh access token", 0, 0},
		{"expired access token: refresh, then logout", 2 * accessLifetime, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := mustLatch(t)
			c := mustClient(t, ls, client.Options{})
			ls.Clock.Advance(tt.advance)
			if err := c.Logout(context.Background()); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			if got := ls.refreshes.Load(); got != tt.wantRef {
				t.Errorf("refreshes = %d, want %d", got, tt.wantRef)
			}
			if a, r := c.Tokens(); a != "" || r != "" {
				t.Errorf("tokens kept after logout")
			}
			if _, err := c.HTTPClient().Get(ls.URL + "/api/me/"); !errors.Is(err, client.ErrLoggedOut) {
				t.Errorf("GET after logout: err = %v, want ErrLoggedOut", err)
			}
			if err := c.Logout(context.Background()); !errors.Is(err, client.ErrLoggedOut) {
				t.Errorf("second Logout = %v, want ErrLoggedOut", err)
			}
		})
	}
}

func TestLogoutRevokesSession(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	access, refresh := c.Tokens()
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Someone who kept a copy of the tokens cannot use them either.
	thief, err := client.New(ls.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	thief.SetTokens(access, refresh)
	for range 2 { // the refresh refused, then no request at all
		if _, err := thief.HTTPClient().Get(ls.URL + "/api/me/"); !errors.Is(err, client.ErrLoggedOut) {
			t.Errorf("GET /api/me/ with logged-out tokens: err = %v, want ErrLoggedOut", err)
		}
	}
}

// onceReader is a body that can be read once and has no GetBody.
type onceReader struct{ io.Reader }

func (onceReader) Close() error { return nil }

func TestRequestBodyReplay(t *testing.T) {
	const newPassword = "another horse battery staple"
	body := `{"old_password":"` + testPassword + `","new_password":"` + newPassword + `"}`
	tests := []struct {
		name       string
		maxBuffer  int64
		getBody    bool // the request has GetBody (strings.Reader)
		wantStatus int
		wantRef    int64
	}{
		{name: "GetBody", getBody: true, wantStatus: http.StatusNoContent, wantRef: 1},
		{name: "buffered", wantStatus: http.StatusNoContent, wantRef: 1},
		{name: "larger than the buffer", maxBuffer: 16, wantStatus: http.StatusUnauthorized},
		{name: "buffering off", maxBuffer: -1, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := mustLatch(t)
			c := mustClient(t, ls, client.Options{MaxBufferBytes: tt.maxBuffer})
			ls.Clock.Advance(2 * accessLifetime)
			var rd io.Reader = strings.NewReader(body)
			if !tt.getBody {
				rd = onceReader{rd}
			}
			req, err := http.NewRequest(http.MethodPost, ls.URL+"/api/password/", rd)
			if err != nil {
				t.Fatal(err)
			}
			if got := req.GetBody != nil; got != tt.getBody {
				t.Fatalf("GetBody set: %v", got)
			}
			req.Header.Set("Content-Type", "application/json")
			a, err := do(t, c, req)
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tt.wantStatus {
				t.Errorf("POST /api/password/ = %d %s, want %d", a.status, a.body, tt.wantStatus)
			}
			if a.status == http.StatusUnauthorized && !strings.Contains(a.body, "token_not_valid") {
				t.Errorf("401 body = %q, want latch's", a.body)
			}
			if got := ls.refreshes.Load(); got != tt.wantRef {
				t.Errorf("refreshes = %d, want %d", got, tt.wantRef)
			}
			// The client is still logged in: the next request refreshes.
			if me := mustGet(t, c, ls.URL+"/api/me/"); me.status != http.StatusOK {
				t.Errorf("GET /api/me/ = %d %s", me.status, me.body)
			}
		})
	}
}

// flakyTransport fails the first n requests with a transport error.
type flakyTransport struct {
	mu sync.Mutex
	n  int
}

func (f *flakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := f.n > 0
	f.n--
	f.mu.Unlock()
	if fail {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errors.New("connection reset by peer (injected)")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestRetries(t *testing.T) {
	date := time.Now().Add(4 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name        string
		method      string
		faults      []fault
		transportNs int // transport errors before the server is reached
		maxRetries  int
		wantStatus  int
		wantSent    int64 // requests that reached the server
		wantWaits   []time.Duration
		backoff     bool // waits are backoff: checked to be short, not exact
	}{
		{name: "503 with Retry-After", method: "GET",
			faults:     []fault{{503, "3"}, {503, "1"}},
			wantStatus: 200, wantSent: 3, wantWaits: []time.Duration{3 * time.Second, time.Second}},
		{name: "429 with Retry-After", method: "GET",
			faults:     []fault{{429, "2"}},
			wantStatus: 200, wantSent: 2, wantWaits: []time.Duration{2 * time.Second}},
		{name: "Retry-After as a date", method: "GET",
			faults:     []fault{{503, date}},
			wantStatus: 200, wantSent: 2, backoff: false},
		{name: "Retry-After over the bound", method: "GET",
			faults:     []fault{{503, "120"}},
			wantStatus: 503, wantSent: 1},
		{name: "502 and 504 back off", method: "GET",
			faults:     []fault{{502, ""}, {504, ""}},
			wantStatus: 200, wantSent: 3, backoff: true},
		{name: "503 without Retry-After backs off", method: "GET",
			faults:     []fault{{503, ""}},
			wantStatus: 200, wantSent: 2, backoff: true},
		{name: "retries exhausted", method: "GET",
			faults:     []fault{{503, "1"}, {503, "1"}, {503, "1"}},
			wantStatus: 503, wantSent: 3, wantWaits: []time.Duration{time.Second, time.Second}},
		{name: "retries off", method: "GET", maxRetries: -1,
			faults:     []fault{{503, "1"}},
			wantStatus: 503, wantSent: 1},
		{name: "POST is not retried", method: "POST",
			faults:     []fault{{502, ""}},
			wantStatus: 502, wantSent: 1},
		{name: "transport errors", method: "GET", transportNs: 2,
			wantStatus: 200, wantSent: 1, backoff: true},
		{name: "transport error on POST", method: "POST", transportNs: 1,
			wantStatus: 0, wantSent: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := mustLatch(t)
			flaky := &flakyTransport{}
			c := mustClient(t, ls, client.Options{Base: flaky, MaxRetries: tt.maxRetries})
			var waits []time.Duration
			client.SetSleep(c, func(_ context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			})
			flaky.n = tt.transportNs
			ls.failNext(tt.faults...)
			sent := ls.requests.Load()
			path := "/api/me/"
			if tt.method == "POST" {
				path = "/api/logout/all/"
			}
			req, err := http.NewRequest(tt.method, ls.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			a, err := do(t, c, req)
			if tt.wantStatus == 0 {
				if err == nil {
					t.Errorf("%s %s = %d, want a transport error", tt.method, path, a.status)
				}
			} else if err != nil || a.status != tt.wantStatus {
				t.Errorf("%s %s = %d %v, want %d", tt.method, path, a.status, err, tt.wantStatus)
			}
			if got := ls.requests.Load() - sent; got != tt.wantSent {
				t.Errorf("server got %d requests, want %d", got, tt.wantSent)
			}
			switch {
			case tt.backoff:
				if len(waits) == 0 {
					t.Errorf("no backoff")
				}
				for _, w := range waits {
					if w <= 0 || w > 2*time.Second {
						t.Errorf("backoff %v, want a short positive wait", w)
					}
				}
			case tt.name == "Retry-After as a date":
				if len(waits) != 1 || waits[0] < 2*time.Second || waits[0] > 4*time.Second {
					t.Errorf("waits = %v, want about 4s", waits)
				}
			default:
				if len(waits) != len(tt.wantWaits) {
					t.Fatalf("waits = %v, want %v", waits, tt.wantWaits)
				}
				for i := range waits {
					if waits[i] != tt.wantWaits[i] {
						t.Errorf("waits = %v, want %v", waits, tt.wantWaits)
					}
				}
			}
		})
	}
}

// TestRetryAfterWaits checks, with the real clock, that a retry waits as
// long as Retry-After asks.
func TestRetryAfterWaits(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	ls.failNext(fault{503, "1"})
	start := time.Now()
	if me := mustGet(t, c, ls.URL+"/api/me/"); me.status != http.StatusOK {
		t.Fatalf("GET /api/me/ = %d", me.status)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, want at least 1s", d)
	}
}

func TestRetryWaitHonoursContext(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	ls.failNext(fault{503, "5"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ls.URL+"/api/me/", nil)
	start := time.Now()
	_, err := c.HTTPClient().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

func TestRefreshRetriedOnlyWhenRefused(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	client.SetSleep(c, func(context.Context, time.Duration) error { return nil })
	ls.Clock.Advance(2 * accessLifetime)

	// A refresh answered 502 (the server may have acted) is not sent again,
	// and the client stays logged in.
	ls.failNext(fault{401, ""}, fault{502, ""})
	sent := ls.requests.Load()
	_, err := c.HTTPClient().Get(ls.URL + "/api/me/")
	if err == nil || errors.Is(err, client.ErrLoggedOut) {
		t.Errorf("err = %v, want a refresh error that is not ErrLoggedOut", err)
	}
	if got := ls.requests.Load() - sent; got != 2 {
		t.Errorf("requests = %d, want 2 (401, refresh)", got)
	}
	if _, r := c.Tokens(); r == "" {
		t.Errorf("a transient refresh failure logged the client out")
	}

	// A throttled refresh (429: the server did not act) is sent again.
	ls.failNext(fault{401, ""}, fault{429, "1"})
	sent = ls.requests.Load()
	if me := mustGet(t, c, ls.URL+"/api/me/"); me.status != http.StatusOK {
		t.Errorf("GET /api/me/ = %d %s, want 200 after a throttled refresh", me.status, me.body)
	}
	if got := ls.requests.Load() - sent; got != 4 {
		t.Errorf("requests = %d, want 4 (401, refresh 429, refresh, retry)", got)
	}
	if got := ls.refreshes.Load(); got != 1 {
		t.Errorf("refreshes served = %d, want 1", got)
	}
}

func TestTokenStaysOnOrigin(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	var got []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/to-latch" {
			http.Redirect(w, r, ls.URL+"/api/me/", http.StatusFound)
		}
	}))
	defer other.Close()
	if a := mustGet(t, c, other.URL+"/"); a.status != http.StatusOK {
		t.Fatalf("GET other = %d", a.status)
	}
	// A redirect to latch gets the token there, and only there.
	if a := mustGet(t, c, other.URL+"/to-latch"); a.status != http.StatusOK || username(t, a) != "alice" {
		t.Errorf("redirected GET = %d %s", a.status, a.body)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range got {
		if h != "" {
			t.Errorf("another origin got Authorization %q", h)
		}
	}
	// A request with its own Authorization header is left alone.
	req, _ := http.NewRequest(http.MethodGet, ls.URL+"/api/me/", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	a, err := do(t, c, req)
	if err != nil || a.status != http.StatusUnauthorized {
		t.Errorf("GET with own header = %d %v, want 401", a.status, err)
	}
	if n := ls.refreshes.Load(); n != 0 {
		t.Errorf("refreshes = %d, want 0", n)
	}
}

func TestSetTokensRefreshOnly(t *testing.T) {
	ls := mustLatch(t)
	c := mustClient(t, ls, client.Options{})
	_, refresh := c.Tokens()
	restored, err := client.New(ls.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	restored.SetTokens("", refresh)
	if me := mustGet(t, restored, ls.URL+"/api/me/"); me.status != http.StatusOK {
		t.Errorf("GET /api/me/ = %d %s", me.status, me.body)
	}
	if got := ls.refreshes.Load(); got != 1 {
		t.Errorf("refreshes = %d, want 1", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := client.ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestAccessRefused: which 401s the Transport refreshes for, and that the
// body it read comes back whole.
func TestAccessRefused(t *testing.T) {
	big := `{"detail":"` + strings.Repeat("x", 20<<10) + `"}`
	for _, tt := range []struct {
		name, body string
		want       bool
	}{
		{"SimpleJWT: access token refused", `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is blacklisted"}]}`, true},
		{"another server's JSON", `{"message":"Unauthorized"}`, true},
		{"not JSON", "<html>401</html>", true},
		{"empty", "", true},
		{"a long body", big, true},
		{"login refused", `{"detail":"No active account found with the given credentials"}`, false},
		{"verify refused", `{"detail":"Token is invalid or expired","code":"token_not_valid"}`, false},
		{"inactive user", `{"detail":"User is inactive","code":"user_inactive"}`, false},
		{"deleted user", `{"detail":"User not found","code":"user_not_found"}`, false},
		{"bad header", `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := &http.Response{StatusCode: http.StatusUnauthorized, Body: io.NopCloser(strings.NewReader(tt.body))}
			if got := client.AccessRefused(res); got != tt.want {
				t.Errorf("AccessRefused = %v, want %v", got, tt.want)
			}
			if b, err := io.ReadAll(res.Body); err != nil || string(b) != tt.body {
				t.Errorf("body after: %d bytes, %v; want the %d sent", len(b), err, len(tt.body))
			}
		})
	}
}
