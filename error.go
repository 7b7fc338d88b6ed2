package latch

import (
	"errors"
	"time"
)

// Domain errors. Stores and flows return them wrapped with %w; the HTTP
// layer maps them to status codes and SimpleJWT's bodies in one place.
var (
	ErrNotFound           = errors.New("not found")
	ErrUsernameTaken      = errors.New("username taken")
	ErrEmailTaken         = errors.New("email taken")
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrUserInactive       = errors.New("user inactive")
	ErrTokenSpent         = errors.New("refresh token already spent")
	ErrTokenReused        = errors.New("refresh token reused")
	ErrSessionRevoked     = errors.New("session revoked")
	// ErrPermissionDenied: the caller is authenticated but may not do
	// this (a non-admin on the admin API).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrEmailNotVerified: under mandatory email verification, a user
	// whose address is not verified may not log in.
	ErrEmailNotVerified = errors.New("email not verified")
	// ErrRotationCheck: a rotation's Check failed (see Rotation.Check).
	ErrRotationCheck = errors.New("rotation check failed")
	// ErrUnavailable: a store (the database, Redis) or the revocation
	// state could not be reached, so the request was not served; retrying
	// later may succeed. Stores return an *UnavailableError, which is it.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// UnavailableError is a store's failure to reach its server (connection
// refused or lost, timeout, server shutting down): nothing about the
// request was wrong. errors.Is(err, ErrUnavailable) is true for it. Store
// names the backend ("postgres", "redis", "sqlite"), so that repeated
// failures of one kind are logged once.
type UnavailableError struct {
	Store string
	Err   error
}

func (e *UnavailableError) Error() string { return e.Store + " unavailable: " + e.Err.Error() }

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true for an *UnavailableError.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// SpentError is returned by SessionStore.Rotate when the presented token was
// already spent. It carries the record so the caller can tell a duplicate
// inside the grace interval from reuse.
type SpentError struct {
	Token *RefreshToken
}

func (e *SpentError) Error() string {
	return "refresh token spent at " + e.Token.SpentAt.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrTokenSpent) true for a *SpentError.
func (e *SpentError) Is(target error) bool { return target == ErrTokenSpent }

// ReuseError is returned by SessionStore.Rotate when a spent refresh token
// was presented outside the grace interval: the store has revoked Session
// (the whole family) in the same transaction.
type ReuseError struct {
	Session *Session
}

func (e *ReuseError) Error() string {
	return "refresh token reused: session " + e.Session.ID + " revoked"
}

// Is makes errors.Is(err, ErrTokenReused) true for a *ReuseError.
func (e *ReuseError) Is(target error) bool { return target == ErrTokenReused }
