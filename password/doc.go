// Package password hashes and verifies user passwords and checks new ones
// against Django's password rules.
//
// New hashes are argon2id in the PHC string format
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash) with OWASP's recommended
// parameters by default. [Hasher.Verify] also accepts the hashes a Django
// project stores in auth_user.password (pbkdf2_sha256, pbkdf2_sha1,
// bcrypt_sha256, bcrypt and argon2), so users imported from Django can log
// in; it reports needsRehash so the caller replaces such a hash with an
// argon2id one on the next successful login.
//
// Stored hashes are treated as untrusted input: Verify never panics, and it
// refuses hashes whose work factor is above fixed limits (see
// [Hasher.Verify]) so that a hostile row cannot tie up the server. Errors
// never contain the password or the hash.
//
// [Hasher.Dummy] spends the same time as a failed Verify, for logins with an
// unknown username. [Pool] bounds how many hashes run at once so that a flood
// of logins cannot starve other requests, and [Process] runs the hashing
// in a separate process at the lowest CPU priority, so that argon2id's CPU
// time and memory (and the garbage collection it causes) stay away from
// request handling. [Validate] applies Django's default
// password validators to a new password, with Django's messages.
//
// The package is a leaf: it imports nothing from latch and never net/http.
package password
