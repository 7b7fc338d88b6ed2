// Package token issues and verifies latch's JWTs, wire-compatible with
// djangorestframework-simplejwt 5.2.2 (SimpleJWT): with the same HS256 secret
// and claim names, a token SimpleJWT minted verifies here and a token minted
// here verifies in SimpleJWT.
//
// An [Engine] signs [Claims] with one [Key] and verifies with that key and any
// number of retired ones, so a key can be rotated without logging anyone out.
// Keys carry a kid; the public halves of ES256, EdDSA and RS256 keys are
// published by [Engine.JWKS], HMAC secrets never are. A [KeySet] persists the
// keys in the data directory.
//
// Verification is strict by default: the algorithm is pinned to the keys'
// algorithms (no "none", no HMAC keyed with a public key), exp is required,
// nbf and iat are honoured, aud and iss are checked when configured. Errors
// are sentinel values carrying SimpleJWT's own messages, such as
// [ErrInvalid] ("Token is invalid or expired") and [ErrWrongType].
//
// The package is a leaf: it imports nothing of latch's and no net/http.
package token
