// Package latch holds the domain of latch, JWT authentication for HTTP APIs:
// users, sessions (token families) and refresh-token records, the contracts
// the stores implement, and the errors the flows return.
//
// It imports only the standard library. Backends live in sub-packages named
// after their dependency (sqlite, postgres, redis, memory); the flows that
// use them live in package auth; the HTTP API lives in package httpapi.
package latch
