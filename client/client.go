package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Paths of latch's endpoints, relative to the base URL.
const (
	pathLogin   = "api/token/"
	pathRefresh = "api/token/refresh/"
	pathLogout  = "api/logout/"
)

// Defaults of Options.
const (
	DefaultMaxRetries     = 2
	DefaultTimeout        = 30 * time.Second
	DefaultMaxRetryAfter  = 10 * time.Second
	DefaultMaxBufferBytes = 1 << 20
)

// ErrLoggedOut is returned for requests to latch's origin when the Client
// holds no tokens: before Login, after Logout, or after the server refused
// the refresh token. Log in again to continue.
var ErrLoggedOut = errors.New("client: not logged in")

// Error is an answer from latch that a Client method could not use: a
// refused login, a failed refresh or logout. Detail and Code are
// SimpleJWT's "detail" and "code" fields when the body has them.
type Error struct {
	StatusCode int
	Detail     string
	Code       string
	Body       []byte // the response body, up to 4 KiB
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("client: latch answered %d: %s", e.StatusCode, e.Detail)
	}
	return fmt.Sprintf("client: latch answered %d", e.StatusCode)
}

// Options configure a Client. Zero values are the documented defaults.
type Options struct {
	// Base sends the requests; default http.DefaultTransport.
	Base http.RoundTripper
	// MaxRetries is how many times an idempotent request is sent again
	// after a transport error or a 502, 503, 504 or 429 answer; default
	// DefaultMaxRetries (2). Negative: never.
	MaxRetries int
	// MaxRetryAfter bounds the wait a 503 or 429 may ask for with
	// Retry-After; an answer asking for longer is returned as it is.
	// Default DefaultMaxRetryAfter (10s).
	MaxRetryAfter time.Duration
	// Timeout limits each request sent through HTTPClient, refresh and
	// retries included, and each call of Login and Logout; default
	// DefaultTimeout (30s). Negative: no limit (a refresh is still bounded
	// by DefaultTimeout, since every waiting request depends on it).
	Timeout time.Duration
	// MaxBufferBytes bounds how much of a request body that cannot be
	// re-read (no Request.GetBody) is buffered so the request can be sent
	// again after a refresh or a retry; default DefaultMaxBufferBytes
	// (1 MiB). A larger body is streamed once, and a 401 to it is returned
	// as it is. Negative: never buffer.
	MaxBufferBytes int64
	// OnTokens is called whenever the tokens change (login, refresh,
	// rotation, logout, refused refresh: then both are empty), so that an
	// application can persist them. Calls are never concurrent and come in
	// the order of the changes; a refresh calls it before the waiting
	// requests are retried. It must not call the Client's methods that
	// send requests.
	OnTokens func(access, refresh string)
}

// Client is a logged-in client of a latch server. It is safe for
// concurrent use.
type Client struct {
	base      *url.URL
	origin    string
	opts      Options
	transport *Transport
	hc        *http.Client
	// sleep waits between retries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	access   string
	refresh  string
	gen      uint64       // bumped whenever the tokens change
	inflight *refreshCall // the refresh in progress, shared by every waiter

	persistMu sync.Mutex
	persisted uint64 // gen of the last tokens handed to OnTokens
}

// New returns a Client of the latch server at baseURL (for example
// "https://auth.example.com" or "https://example.com/auth/"; latch's paths
// are resolved under it). The Client holds no tokens until Login or
// SetTokens.
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http:// or https:// and a host", baseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	if opts.Base == nil {
		opts.Base = http.DefaultTransport
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBufferBytes == 0 {
		opts.MaxBufferBytes = DefaultMaxBufferBytes
	}
	c := &Client{base: u, origin: origin(u), opts: opts, sleep: sleepCtx}
	c.transport = &Transport{c: c}
	c.hc = &http.Client{Transport: c.transport, Timeout: max(opts.Timeout, 0)}
	return c, nil
}

// HTTPClient returns an *http.Client whose Transport is the Client's
// Transport: requests to latch's origin carry the access token and are
// refreshed and retried as the package doc describes.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Transport returns the Client's http.RoundTripper, to use in an
// *http.Client of one's own.
func (c *Client) Transport() *Transport { return c.transport }

// Tokens returns the current access and refresh tokens; both are empty
// when the Client is logged out.
func (c *Client) Tokens() (access, refresh string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.access, c.refresh
}

// SetTokens replaces the tokens, for example with a pair persisted through
// Options.OnTokens by an earlier run. It does not call OnTokens. An empty
// refresh token logs the Client out.
func (c *Client) SetTokens(access, refresh string) {
	if refresh == "" {
		access = ""
	}
	c.mu.Lock()
	c.access, c.refresh = access, refresh
	c.gen++
	gen := c.gen
	c.mu.Unlock()
	c.persistMu.Lock()
	c.persisted = max(c.persisted, gen)
	c.persistMu.Unlock()
}

// Login obtains a token pair with POST /api/token/ and keeps it. A refused
// login returns an *Error with StatusCode 401 (latch's "No active account
// found with the given credentials").
func (c *Client) Login(ctx context.Context, username, password string) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var pair struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh"`
	}
	err := c.postJSON(ctx, pathLogin, map[string]string{"username": username, "password": password}, "", http.StatusOK, &pair)
	if err != nil {
		return fmt.Errorf("client: login: %w", err)
	}
	if pair.Access == "" || pair.Refresh == "" {
		// Cookie mode (LATCH_COOKIE_MODE=on) keeps the refresh token out
		// of the body; this client needs it.
		return errors.New("client: login: the answer has no access or refresh token (is the server in cookie mode?)")
	}
	c.update(func() { c.access, c.refresh = pair.Access, pair.Refresh })
	return nil
}

// Logout revokes the session with POST /api/logout/ (refreshing the access
// token first if it has expired) and forgets the tokens. The tokens are
// forgotten even when the request fails; the error then says the server
// may not have revoked the session. Logout returns ErrLoggedOut when the
// Client holds no tokens, and nil when the server had already revoked the
// session.
func (c *Client) Logout(ctx context.Context) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	c.mu.Lock()
	access, refresh, gen := c.access, c.refresh, c.gen
	c.mu.Unlock()
	if refresh == "" {
		return ErrLoggedOut
	}
	defer c.update(func() { c.access, c.refresh = "", "" })
	err := c.postJSON(ctx, pathLogout, map[string]string{"refresh": refresh}, access, http.StatusResetContent, nil)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		if err != nil {
			return fmt.Errorf("client: logout: %w", err)
		}
		return nil
	}
	// The access token has expired: refresh it, then log out the
	// refreshed session with the refresh token that is current then.
	if _, _, err := c.refreshAccess(ctx, gen); err != nil {
		if errors.Is(err, ErrLoggedOut) {
			return nil // the session is gone already
		}
		return fmt.Errorf("client: logout: %w", err)
	}
	c.mu.Lock()
	access, refresh = c.access, c.refresh
	c.mu.Unlock()
	if err := c.postJSON(ctx, pathLogout, map[string]string{"refresh": refresh}, access, http.StatusResetContent, nil); err != nil {
		return fmt.Errorf("client: logout: %w", err)
	}
	return nil
}

// update changes the tokens under the lock, bumps the generation, and
// hands the new tokens to OnTokens.
func (c *Client) update(change func()) {
	c.mu.Lock()
	change()
	c.gen++
	access, refresh, gen := c.access, c.refresh, c.gen
	c.mu.Unlock()
	c.persist(access, refresh, gen)
}

// persist calls OnTokens with the tokens of generation gen, unless newer
// tokens have been handed over already.
func (c *Client) persist(access, refresh string, gen uint64) {
	if c.opts.OnTokens == nil {
		return
	}
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	if gen <= c.persisted {
		return
	}
	c.persisted = gen
	c.opts.OnTokens(access, refresh)
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opts.Timeout > 0 {
		return context.WithTimeout(ctx, c.opts.Timeout)
	}
	return context.WithCancel(ctx)
}

// postJSON posts body as JSON to path with the access token (when not
// empty). Only 429 and 503, which mean the server did not act, are
// retried. Unless the answer has status want, it returns an *Error; on
// success it decodes the answer into out (when not nil).
func (c *Client) postJSON(ctx context.Context, path string, body any, access string, want int, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath(path).String(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	b, err := c.prepareBody(req)
	if err != nil {
		return err
	}
	res, err := c.send(req, b, access, c.opts.MaxRetries, refusedOnly)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		return responseError(res)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode %s answer: %w", path, err)
	}
	return nil
}

// responseError reads an unexpected answer into an *Error.
func responseError(res *http.Response) *Error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	e := &Error{StatusCode: res.StatusCode, Body: body}
	var fields struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	if json.Unmarshal(body, &fields) == nil {
		e.Detail, e.Code = fields.Detail, fields.Code
	}
	return e
}

// origin is the scheme, host and port of u, lower-cased, with the default
// port made explicit.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}
