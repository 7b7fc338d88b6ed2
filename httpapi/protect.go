package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch-auth/latch/auth"
)

// MiddlewareOptions configure Require and Verify used without a Server.
// Zero values are the documented defaults.
type MiddlewareOptions struct {
	// HeaderTypes are the accepted Authorization schemes; default Bearer.
	HeaderTypes []string
	// SimpleJWT55 selects SimpleJWT 5.5's wording of token errors.
	SimpleJWT55 bool
	Logger      *slog.Logger // default: discard
}

// middlewareServer is a Server that only authenticates: no routes, its
// metrics in a registry of its own.
func middlewareServer(svc *auth.Service, opts MiddlewareOptions) *Server {
	if len(opts.HeaderTypes) == 0 {
		opts.HeaderTypes = []string{"Bearer"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		panic(err) // a fresh registry refuses nothing
	}
	return &Server{
		opts:      Options{Auth: svc, HeaderTypes: opts.HeaderTypes, SimpleJWT55: opts.SimpleJWT55, Logger: opts.Logger},
		metrics:   m,
		challenge: challenge(opts.HeaderTypes),
	}
}

// Require returns middleware, built from the flows alone, that lets only
// requests with a valid access token through and answers 401 with
// SimpleJWT's bodies otherwise; handlers read the caller with
// PrincipalFrom. It is Server.Require for an application that serves
// latch's endpoints elsewhere (or not at all):
//
//	protect := httpapi.Require(svc, httpapi.MiddlewareOptions{})
//	mux.Handle("/orders/", protect(ordersHandler))
func Require(svc *auth.Service, opts MiddlewareOptions) func(http.Handler) http.Handler {
	return middlewareServer(svc, opts).Require
}

// Verify is Require's lenient twin (Server.Verify): a request without an
// Authorization header passes through anonymous.
func Verify(svc *auth.Service, opts MiddlewareOptions) func(http.Handler) http.Handler {
	return middlewareServer(svc, opts).Verify
}
