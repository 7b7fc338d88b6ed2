//lint:file-ignore ST1005 the texts are SimpleJWT's, which clients see verbatim

package token

import "errors"

// Errors returned by [Engine.Parse], possibly wrapped with detail (test them
// with errors.Is). Their texts are SimpleJWT 5.2.2's, which the HTTP layer
// shows verbatim; the wrapped detail never contains the token or a key.
var (
	// ErrInvalid covers every token that cannot be trusted: garbage, a wrong
	// number of segments, a bad signature, an algorithm or kid the engine
	// does not hold, an expired or not yet valid token, a wrong audience or
	// issuer.
	ErrInvalid = errors.New("Token is invalid or expired")
	// ErrExpired is also wrapped, next to ErrInvalid, when the signature is
	// good but exp has passed. Its text is SimpleJWT 5.5's wording.
	ErrExpired   = errors.New("Token is expired")
	ErrWrongType = errors.New("Token has wrong type")
	ErrNoType    = errors.New("Token has no type")
	ErrNoID      = errors.New("Token has no id")
	ErrNoExp     = errors.New("Token has no 'exp' claim")
	// ErrNoRefreshExp is returned for a sliding token without refresh_exp.
	ErrNoRefreshExp = errors.New("Token has no 'refresh_exp' claim")
	// ErrRefreshExpired is not returned by Parse: it is the text for a
	// sliding token whose refresh_exp has passed (see [Engine.RefreshExpired]).
	ErrRefreshExpired = errors.New("Token 'refresh_exp' claim has expired")
)
