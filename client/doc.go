// Package client is a Go client for latch (and for any server that speaks
// SimpleJWT's token endpoints).
//
// A Client logs in with POST /api/token/, keeps the access and refresh
// tokens, and hands out an *http.Client whose Transport attaches
// "Authorization: Bearer <access>" to every request sent to latch's origin.
// When latch answers 401 the Transport refreshes the access token once with
// POST /api/token/refresh/ (keeping the rotated refresh token) and sends the
// request again: the interceptor pattern of SimpleJWT frontends, in Go.
// The 401s SimpleJWT gives for something a refresh cannot cure (a wrong
// password at POST /api/token/, a bad token sent to /api/token/verify/, an
// inactive or deleted user, a malformed Authorization header) are returned
// as they are, and the request is not sent twice.
//
// The refresh is single-flight: however many goroutines get a 401 at the
// same moment, one refresh request is sent and all of them retry with its
// result. A goroutine whose 401 answered an access token that has already
// been replaced does not refresh again; it retries with the current token.
// Sending several refreshes of one token would be wasteful at best, and,
// with rotation and no reuse grace interval, would look like token theft to
// the server and revoke the session.
//
// When the refresh token is refused (expired, revoked, logged out
// elsewhere) the Client forgets both tokens: the requests waiting for that
// refresh fail with an error wrapping ErrLoggedOut (and the server's
// refusal, an *Error), as later requests do until Login is called again.
//
// Idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or any
// request with an Idempotency-Key header) are also retried, with a short
// backoff, on transport errors and on 502, 503, 504 and 429 answers,
// honouring a bounded Retry-After.
//
// Tokens are sent only to the origin (scheme, host and port) of the base
// URL given to New; requests to other hosts pass through unchanged, so a
// redirect or a link to another site never carries the access token.
package client
