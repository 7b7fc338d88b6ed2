package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Transport is the http.RoundTripper of a Client: it attaches the access
// token to requests for latch's origin, refreshes it once on a 401
// (single-flight across goroutines) and sends the request again, and
// retries idempotent requests on transport errors and 502, 503, 504 and
// 429 answers. Get it from Client.Transport or Client.HTTPClient; the zero
// Transport is not usable.
//
// A request that already has an Authorization header, or that goes to
// another origin, is passed on untouched (retries still apply).
type Transport struct {
	c *Client
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip implements http.RoundTripper. For a request to latch's origin
// it returns ErrLoggedOut when the Client holds no tokens, and an error
// wrapping ErrLoggedOut when a 401 made it refresh and the refresh token
// was refused. A 401 that is not about the access token (a refused login
// or verify, an inactive user), or whose body cannot be sent again, is
// returned as it is, body intact, with no refresh.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	if c == nil {
		closeBody(req)
		return nil, errors.New("client: Transport not made by client.New")
	}
	authorize := origin(req.URL) == c.origin && req.Header.Get("Authorization") == ""
	var access, refresh string
	var gen uint64
	if authorize {
		c.mu.Lock()
		access, refresh, gen = c.access, c.refresh, c.gen
		c.mu.Unlock()
		if refresh == "" {
			closeBody(req)
			return nil, ErrLoggedOut
		}
		if access == "" { // SetTokens with a refresh token only
			var err error
			if access, gen, err = c.refreshAccess(req.Context(), gen); err != nil {
				closeBody(req)
				return nil, err
			}
		}
	}
	b, err := c.prepareBody(req)
	if err != nil {
		return nil, err
	}
	retries := 0
	if idempotent(req) {
		retries = c.opts.MaxRetries
	}
	res, err := c.send(req, b, access, retries, allFailures)
	if err != nil || !authorize || res.StatusCode != http.StatusUnauthorized || !b.replayable() || !accessRefused(res) {
		return res, err
	}
	discard(res)
	if access, _, err = c.refreshAccess(req.Context(), gen); err != nil {
		return nil, err
	}
	return c.send(req, b, access, retries, allFailures)
}

// accessRefused reports whether a 401 may be cured by a refresh: any 401
// but the ones SimpleJWT gives for something else than an expired or
// revoked access token, which a refresh would only make the client send
// twice: the token endpoints' own refusals (a login's wrong password,
// {"code":"token_not_valid"} with no "messages" from verify or refresh),
// an inactive or deleted user, a malformed Authorization header. A 401 of
// another shape (a proxy's page, another server's JSON) is refreshed for,
// once. It reads the start of the body and puts it back.
func accessRefused(res *http.Response) bool {
	head, err := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	res.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(head), res.Body), Closer: res.Body}
	if err != nil {
		return false
	}
	var body struct {
		Detail   string            `json:"detail"`
		Code     string            `json:"code"`
		Messages []json.RawMessage `json:"messages"`
	}
	if json.Unmarshal(head, &body) != nil {
		return true
	}
	switch body.Code {
	case "token_not_valid":
		return len(body.Messages) > 0 // the authentication's, not a token endpoint's
	case "user_inactive", "user_not_found", "bad_authorization_header":
		return false
	}
	return body.Detail != "No active account found with the given credentials"
}

// maxErrorBody bounds how much of a 401's body accessRefused reads.
const maxErrorBody = 16 << 10

// refreshCall is one refresh request and its outcome, shared by every
// goroutine that waits for it.
type refreshCall struct {
	done   chan struct{}
	access string
	gen    uint64
	err    error
}

// refreshAccess returns an access token newer than the one of generation
// stale. When the tokens have changed since stale (another goroutine has
// refreshed, or Login was called) it returns the current access token and
// sends nothing. Otherwise it joins the refresh in flight, or starts one:
// however many goroutines call it for the same generation, one refresh
// request is sent. It returns an error wrapping ErrLoggedOut when the
// refresh token is refused, and forgets the tokens then.
func (c *Client) refreshAccess(ctx context.Context, stale uint64) (access string, gen uint64, err error) {
	c.mu.Lock()
	switch {
	case c.refresh == "":
		c.mu.Unlock()
		return "", 0, ErrLoggedOut
	case c.gen != stale && c.access != "":
		access, gen = c.access, c.gen
		c.mu.Unlock()
		return access, gen, nil
	}
	call := c.inflight
	if call == nil {
		call = &refreshCall{done: make(chan struct{})}
		c.inflight = call
		// The refresh runs apart from the caller: a caller that gives up
		// must neither fail the other waiters nor lose a rotated refresh
		// token the server has already issued.
		go c.runRefresh(context.WithoutCancel(ctx), call, c.refresh, c.gen)
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.access, call.gen, call.err
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
}

// runRefresh sends the refresh request of call and records its outcome.
func (c *Client) runRefresh(ctx context.Context, call *refreshCall, refresh string, gen uint64) {
	timeout := c.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var pair struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh"`
	}
	err := c.postJSON(ctx, pathRefresh, map[string]string{"refresh": refresh}, "", http.StatusOK, &pair)
	if err == nil && pair.Access == "" {
		err = errors.New("the refresh answer has no access token")
	}
	var apiErr *Error
	refused := errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusBadRequest)

	c.mu.Lock()
	changed := false
	switch {
	case c.gen != gen:
		// Login, SetTokens or Logout ran meanwhile: their tokens win.
	case err == nil:
		c.access = pair.Access
		if pair.Refresh != "" { // rotation
			c.refresh = pair.Refresh
		}
		c.gen++
		changed = true
	case refused:
		c.access, c.refresh = "", ""
		c.gen++
		changed = true
	}
	switch {
	case c.refresh == "" && refused:
		call.err = fmt.Errorf("%w: refresh token refused: %w", ErrLoggedOut, err)
	case c.refresh == "":
		call.err = ErrLoggedOut
	case c.gen == gen: // not refused, not applied: a transient failure
		call.err = fmt.Errorf("client: refresh access token: %w", err)
	default:
		call.access, call.gen = c.access, c.gen
	}
	c.inflight = nil
	access, newRefresh, newGen := c.access, c.refresh, c.gen
	c.mu.Unlock()
	if changed {
		c.persist(access, newRefresh, newGen)
	}
	close(call.done)
}

// retryPolicy says which failures are worth sending a request again for.
type retryPolicy int

const (
	// allFailures: transport errors, 502, 503, 504 and 429 (idempotent
	// requests).
	allFailures retryPolicy = iota
	// refusedOnly: 503 and 429, which say the server did not act (login,
	// refresh, logout: sending those twice may do harm).
	refusedOnly
)

// send sends req with the access token (when not empty), and sends it
// again up to retries times as policy allows.
func (c *Client) send(req *http.Request, b *reqBody, access string, retries int, policy retryPolicy) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		body, err := b.next()
		if err != nil {
			return nil, err
		}
		r := req.Clone(ctx)
		r.Body, r.GetBody = body, nil
		if body != nil && body != http.NoBody {
			r.GetBody = b.get
		}
		if access != "" {
			r.Header.Set("Authorization", "Bearer "+access)
		}
		res, err := c.opts.Base.RoundTrip(r)
		if attempt >= retries || !b.replayable() || ctx.Err() != nil {
			return res, err
		}
		wait, again := c.retryWait(res, err, attempt, policy)
		if !again {
			return res, err
		}
		if res != nil {
			discard(res)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// retryWait says whether an answer (or transport error) is worth another
// attempt, and after how long.
func (c *Client) retryWait(res *http.Response, err error, attempt int, policy retryPolicy) (time.Duration, bool) {
	if err != nil {
		return backoff(attempt), policy == allFailures
	}
	switch res.StatusCode {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return backoff(attempt), policy == allFailures
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		if d, ok := parseRetryAfter(res.Header.Get("Retry-After"), time.Now()); ok {
			return d, d <= c.opts.MaxRetryAfter
		}
		return backoff(attempt), true
	}
	return 0, false
}

// backoff is the wait before retry attempt+1: 100 ms doubling up to 2 s,
// with jitter so that many clients do not retry in step.
func backoff(attempt int) time.Duration {
	d := min(100*time.Millisecond<<min(attempt, 5), 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads Retry-After: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			return 24 * time.Hour, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// idempotent reports whether req may be sent twice, as net/http decides.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, ok := req.Header["Idempotency-Key"]
	_, xok := req.Header["X-Idempotency-Key"]
	return ok || xok
}

// reqBody hands out a request's body for each attempt.
type reqBody struct {
	first io.ReadCloser                 // the body of the first attempt
	get   func() (io.ReadCloser, error) // a fresh copy; nil: cannot be sent again
	used  bool
}

func (b *reqBody) replayable() bool { return b.get != nil }

func (b *reqBody) next() (io.ReadCloser, error) {
	if !b.used {
		b.used = true
		return b.first, nil
	}
	if b.get == nil {
		return nil, errors.New("client: request body cannot be sent again")
	}
	return b.get()
}

// prepareBody makes req's body replayable: through GetBody when the
// request has it, or by buffering up to MaxBufferBytes. A larger body is
// streamed once.
func (c *Client) prepareBody(req *http.Request) (*reqBody, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return &reqBody{first: req.Body, get: func() (io.ReadCloser, error) { return req.Body, nil }}, nil
	case req.GetBody != nil:
		return &reqBody{first: req.Body, get: req.GetBody}, nil
	case c.opts.MaxBufferBytes < 0:
		return &reqBody{first: req.Body}, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, c.opts.MaxBufferBytes+1))
	if err != nil {
		req.Body.Close()
		return nil, fmt.Errorf("client: read request body: %w", err)
	}
	if int64(len(buf)) > c.opts.MaxBufferBytes {
		return &reqBody{first: &prefixedBody{Reader: io.MultiReader(bytes.NewReader(buf), req.Body), Closer: req.Body}}, nil
	}
	req.Body.Close()
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	first, _ := get()
	return &reqBody{first: first, get: get}, nil
}

// prefixedBody is a body whose start has been read already.
type prefixedBody struct {
	io.Reader
	io.Closer
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// discard reads a little of an unused answer, so the connection can be
// reused, and closes it.
func discard(res *http.Response) {
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
}
