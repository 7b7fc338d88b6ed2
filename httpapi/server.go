// Package httpapi serves latch's HTTP API: SimpleJWT-compatible token
// endpoints, logout and session management, signup, /api/me/, JWKS,
// health and metrics. Handlers return errors that are rendered in one
// place with SimpleJWT's exact bodies; every route answers with and
// without its trailing slash.
//
// Embedding applications use Server.Verify and Server.Require as
// net/http middleware and PrincipalFrom to read the caller.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/internal/ratelog"
	"github.com/latch-auth/latch/ratelimit"
	"github.com/latch-auth/latch/token"
)

// Options configure a Server. Zero values are the documented defaults.
type Options struct {
	Auth   *auth.Service // required
	Tokens *token.Engine // required: JWKS
	// HeaderTypes are the accepted Authorization schemes; default Bearer.
	HeaderTypes []string
	// MaxBodyBytes caps request bodies; default 64 KiB (413 above).
	MaxBodyBytes int64
	// SimpleJWT55 selects SimpleJWT 5.5's wording of token errors.
	SimpleJWT55 bool
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// AnonLimiter throttles unauthenticated requests to the token
	// endpoints per client IP; UserLimiter throttles authenticated requests
	// per user. nil: no throttling.
	AnonLimiter ratelimit.Limiter
	UserLimiter ratelimit.Limiter
	// Sliding serves SimpleJWT's sliding-token endpoints.
	Sliding bool
	// Routes are the application's own authenticated endpoints, served
	// with latch's conventions (see Route).
	Routes []Route
	// Omit leaves out route groups an embedding application serves itself
	// or not at all; zero serves every group.
	Omit Group
	// Cookies configure cookie mode (the /api/cookie/ endpoints are always
	// served).
	Cookies CookieOptions
	// Upstream turns on gateway mode: every request that none of latch's
	// routes serves is proxied there with the caller's X-Latch-* headers,
	// only with a valid access token (see gateway.go). nil: such requests
	// get 404.
	Upstream *url.URL
	// UpstreamPublic are path prefixes proxied without a token.
	UpstreamPublic []string
	// UpstreamTransport carries proxied requests; nil:
	// NewUpstreamTransport().
	UpstreamTransport http.RoundTripper
	// IntrospectionClients are the HTTP Basic id → secret pairs allowed to
	// call /api/token/introspect/; none: it answers 401 to everyone.
	IntrospectionClients map[string]string
	// CORSOrigins are the origins (https://app.example.com) whose pages may
	// call latch from a browser with credentials: latch answers their
	// preflights (on every path, the gateway's too), adds CORS headers to
	// its answers to them, and the CSRF check of the cookie endpoints and
	// account pages trusts them. None: no CORS headers, same origin only.
	CORSOrigins []string
	// PublicURL is the scheme and host (https://auth.example.com) that
	// links in account mail point at; empty: the request's (see
	// publicBase), which a client can choose.
	PublicURL string
	// Ready reports whether the stores answer, for /readyz.
	Ready func(ctx context.Context) error
	// Registry receives latch's metrics and is served at /metrics; nil:
	// a new registry.
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

// Group is a set of latch's routes besides the token and session API,
// for Options.Omit.
type Group uint

const (
	// GroupOps is /healthz, /readyz and /metrics.
	GroupOps Group = 1 << iota
	// GroupDocs is the OpenAPI document and Swagger UI (/api/schema/,
	// /api/docs/).
	GroupDocs
	// GroupDemo is the demo page (/demo/).
	GroupDemo
)

// Route is an authenticated endpoint of the application that embeds latch,
// served as latch serves its own: with and without the trailing slash,
// DRF's 405 for other methods (HEAD with GET), the per-user throttle,
// metrics, no-store, and SimpleJWT's 401 bodies. Handle gets the caller;
// the error it returns is rendered as latch renders its own (a
// latch.ErrNotFound means the caller's user is gone; latch.ErrUnavailable
// is 503).
type Route struct {
	Path   string // a ServeMux pattern path, such as /api/orders/
	Method string
	Handle func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error
}

// Server is latch's HTTP API.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	exact   map[string]exactRoute // see route
	muxOnly bool                  // exact is not used
	// fallback serves the paths no route names: latch's 404, or the
	// gateway's upstream.
	fallback  http.Handler
	metrics   *metrics
	csrf      *http.CrossOriginProtection
	cors      cors // nil: CORS off
	preflight func(method string, status int, d time.Duration)
	// challenge is every 401's WWW-Authenticate, as SimpleJWT's
	// authenticate_header: the first header type, realm "api"; never
	// handed out itself (writeError copies it).
	challenge []string
	clients   *clientAuth // introspection callers
}

// New returns a Server with every route registered.
func New(opts Options) (*Server, error) {
	if opts.Auth == nil || opts.Tokens == nil {
		return nil, errors.New("httpapi: Options.Auth and Options.Tokens are required")
	}
	if len(opts.HeaderTypes) == 0 {
		opts.HeaderTypes = []string{"Bearer"}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// An outage fails every request alike: log it once a second per store.
	opts.Logger = slog.New(ratelog.New(opts.Logger.Handler(), 0, nil))
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Ready == nil {
		opts.Ready = func(context.Context) error { return nil }
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), metrics: m, csrf: http.NewCrossOriginProtection(),
		clients: newClientAuth(opts.IntrospectionClients)}
	s.challenge = challenge(opts.HeaderTypes)
	if s.cors, err = newCORS(opts.CORSOrigins); err != nil {
		return nil, fmt.Errorf("httpapi: CORSOrigins: %w", err)
	}
	for o := range s.cors {
		if err := s.csrf.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("httpapi: CORS origin: %w", err)
		}
	}
	if s.cors != nil {
		s.preflight = m.route("preflight")
	}
	s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler. Every response forbids MIME sniffing
// and, when cookies are Secure (so latch is served over HTTPS), pins HTTPS.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["X-Content-Type-Options"] = headerNoSniff // shared slices: never modified
	if !s.opts.Cookies.Insecure {
		h["Strict-Transport-Security"] = headerHSTS
	}
	// Forward auth answers a proxy, not a browser: a preflight to be
	// checked there gets the check's answer (401 without a token), else the
	// proxy would pass it upstream unauthenticated.
	if s.cors != nil && !isForwardAuthPath(r.URL.Path) {
		var start time.Time
		if r.Method == http.MethodOptions { // only a preflight is timed here
			start = time.Now()
		}
		if s.cors.apply(w, r) {
			s.preflight(r.Method, http.StatusNoContent, time.Since(start))
			return
		}
	}
	// A literal route's own path (no escapes the mux would read
	// differently) goes straight to its handler: the handler and pattern
	// the mux would pick, without walking its tree on every request.
	if rt, ok := s.exact[r.URL.Path]; ok && !s.muxOnly && r.URL.RawPath == "" && r.Method != http.MethodConnect {
		r.Pattern = rt.pattern
		rt.h.ServeHTTP(w, r)
		return
	}
	if !cleanPath(r.URL.Path) && r.Method != http.MethodConnect {
		// The mux would redirect to the cleaned path, with an HTML body;
		// as Django's resolver, latch matches no route here: its JSON 404
		// (or, in gateway mode, the upstream's answer).
		r.Pattern = "/"
		s.fallback.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath reports whether p has no empty, "." or ".." element: what
// path.Clean would leave as it is, trailing slash apart.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return true // "*" (OPTIONS *), or nothing the mux would clean
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// forwardAuthPath is forward auth's endpoint.
const forwardAuthPath = "/api/auth/check/"

// isForwardAuthPath reports whether p is forward auth's endpoint, with or
// without its slash, or a path under it (a proxy may append the original
// path, as Envoy's path_prefix does); /api/auth/checkout/ is not.
func isForwardAuthPath(p string) bool {
	return p == forwardAuthPath[:len(forwardAuthPath)-1] || strings.HasPrefix(p, forwardAuthPath)
}

// exactRoute is a route registered under a literal path.
type exactRoute struct {
	pattern string
	h       http.Handler
}

var (
	headerNoSniff = []string{"nosniff"}
	headerHSTS    = []string{"max-age=31536000"}
)

// handlerFunc is a handler that returns its error for the one renderer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// methods maps HTTP methods to the handlers of one route; anyMethod
// serves every method the map does not name.
type methods map[string]handlerFunc

const anyMethod = "*"

func (s *Server) routes() {
	if s.opts.Cookies.Mode {
		s.route("/api/token/", methods{"POST": s.anon(s.cookieAuthed(s.cookieLogin(cookiePathTokenEndpoints)))})
		s.route("/api/token/refresh/", methods{"POST": s.anon(s.cookieAuthed(s.cookieRefreshHandler(cookiePathTokenEndpoints)))})
	} else {
		s.route("/api/token/", methods{"POST": s.anon(s.tokenObtain)})
		s.route("/api/token/refresh/", methods{"POST": s.anon(s.tokenRefresh)})
	}
	s.route("/api/cookie/login/", methods{"POST": s.anon(s.cookieAuthed(s.cookieLogin(cookiePathCookieEndpoints)))})
	s.route("/api/cookie/refresh/", methods{"POST": s.anon(s.cookieAuthed(s.cookieRefreshHandler(cookiePathCookieEndpoints)))})
	s.route("/api/cookie/logout/", methods{"POST": s.anon(s.cookieAuthed(s.cookieLogout(cookiePathCookieEndpoints)))})
	s.route("/api/token/verify/", methods{"POST": s.anon(s.tokenVerify)})
	if s.opts.Sliding {
		s.route("/api/token/sliding/", methods{"POST": s.anon(s.slidingObtain)})
		s.route("/api/token/sliding/refresh/", methods{"POST": s.anon(s.slidingRefresh)})
	}
	if s.opts.Cookies.Mode {
		// The refresh token is in the cookie, where the frontend cannot
		// read it: blacklist (a SimpleJWT frontend's logout) takes it there.
		s.route("/api/token/blacklist/", methods{"POST": s.anon(s.cookieAuthed(s.cookieBlacklist(cookiePathTokenEndpoints)))})
	} else {
		s.route("/api/token/blacklist/", methods{"POST": s.anon(s.tokenBlacklist)})
	}
	s.route("/api/signup/", methods{"POST": s.anon(s.signup)})
	s.route("/api/logout/", methods{"POST": s.authed(s.logout)})
	s.route("/api/logout/all/", methods{"POST": s.authed(s.logoutAll)})
	s.route("/api/me/", methods{"GET": s.authed(s.me), "PATCH": s.authed(s.updateMe)})
	s.accountRoutes()
	s.route(forwardAuthPath, methods{anyMethod: s.forwardAuth})
	s.route("/api/token/introspect/", methods{"POST": s.introspect})
	for _, rt := range s.opts.Routes {
		s.route(rt.Path, methods{rt.Method: s.authed(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
			if err := rt.Handle(w, r, p); err != nil {
				return s.authError(err)
			}
			return nil
		})})
	}
	s.route("/api/password/", methods{"POST": s.authed(s.changePassword)})
	s.route("/api/sessions/", methods{"GET": s.authed(s.sessions)})
	s.route("/api/sessions/{id}/", methods{"DELETE": s.authed(s.deleteSession)})
	s.adminRoutes()
	s.route("/.well-known/jwks.json", methods{"GET": s.jwks})
	if s.opts.Omit&GroupOps == 0 {
		s.route("/healthz", methods{"GET": s.healthz})
		s.route("/readyz", methods{"GET": s.readyz})
		metricsHandler := promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{Registry: s.opts.Registry})
		s.route("/metrics", methods{"GET": func(w http.ResponseWriter, r *http.Request) error {
			metricsHandler.ServeHTTP(w, r)
			return nil
		}})
	}
	if s.opts.Omit&GroupDocs == 0 {
		s.docRoutes()
	}
	if s.opts.Omit&GroupDemo == 0 {
		s.demoRoutes()
	}
	if s.opts.Upstream != nil {
		s.fallback = s.gateway()
	} else {
		s.fallback = s.adapt("other", methods{})
	}
	s.mux.Handle("/", s.fallback)
}

// route registers path with and without its trailing slash: Django answers
// a slash-less POST with a redirect that breaks clients; latch serves both,
// for the paths written without one (/healthz) as for the others.
func (s *Server) route(path string, ms methods) {
	h := s.adapt(path, ms)
	trimmed := strings.TrimSuffix(path, "/")
	patterns := []string{trimmed}
	if !strings.HasSuffix(trimmed, "...}") && !strings.HasSuffix(trimmed, "{$}") {
		// A trailing {name...} already matches the slash; {$} says none.
		patterns = append(patterns, trimmed+"/{$}")
	}
	for _, p := range patterns {
		s.mux.Handle(p, h)
		if !strings.HasPrefix(p, "/") {
			// A method or a host in a pattern (an embedder's Route) can
			// be more specific than a literal path: the mux decides all.
			s.muxOnly = true
		}
		// A pattern without wildcards matches its own path only, and
		// nothing registered is more specific than that.
		if literal := strings.TrimSuffix(p, "{$}"); strings.HasPrefix(literal, "/") && !strings.Contains(literal, "{") {
			if s.exact == nil {
				s.exact = make(map[string]exactRoute)
			}
			s.exact[literal] = exactRoute{pattern: p, h: h}
		}
	}
}

// adapt turns a route's handlers into an http.Handler: method dispatch
// with DRF's 405, error rendering, panic recovery and metrics.
func (s *Server) adapt(route string, ms methods) http.Handler {
	allow := make([]string, 0, len(ms)+1)
	for m := range ms {
		allow = append(allow, m)
	}
	if _, ok := ms["GET"]; ok {
		ms["HEAD"] = ms["GET"]
		allow = append(allow, "HEAD")
	}
	allow = append(allow, "OPTIONS")
	allowHeader := strings.Join(allow, ", ")
	observe := s.metrics.route(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorders.Get().(*statusRecorder)
		*rec = statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.opts.Logger.Error("panic serving request", "method", r.Method, "path", logPath(r), "panic", p)
				if !rec.wrote {
					s.writeError(rec, r, s.toAPIError(errors.New("panic")))
				}
			}
			observe(r.Method, rec.status, time.Since(start))
			*rec = statusRecorder{}
			recorders.Put(rec)
		}()
		var err error
		h, ok := ms[r.Method]
		if !ok {
			h, ok = ms[anyMethod]
		}
		switch {
		case len(ms) == 0:
			err = errNotFound
		case ok:
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				r.Body = http.MaxBytesReader(rec, r.Body, s.opts.MaxBodyBytes)
			}
			err = h(rec, r)
		case r.Method == http.MethodOptions:
			rec.Header().Set("Allow", allowHeader)
			writeJSON(rec, http.StatusOK, struct{}{})
		default:
			rec.Header().Set("Allow", allowHeader)
			err = errMethodNotAllowed(r.Method)
		}
		if err != nil {
			s.writeError(rec, r, s.toAPIError(err))
		}
	})
}

// recorders pools the per-request status recorders; handlers never keep
// their ResponseWriter past their return.
var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// clientIP is the address of the client: the peer, or, when the peer is a
// trusted proxy, the right-most X-Forwarded-For entry that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if !s.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		hop = hop.Unmap()
		if !s.trusted(hop) {
			return hop.String()
		}
		addr = hop
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// throttleKey groups IPv6 clients by /64: one host commonly holds a whole
// /64 and could otherwise rotate addresses to evade the limit.
func throttleKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// throttle consults l and answers DRF's 429 when it refuses.
func (s *Server) throttle(r *http.Request, l ratelimit.Limiter, scope, key string) error {
	d, err := l.Allow(r.Context(), scope+":"+key)
	if err != nil {
		// Fail open: an outage of the shared store must not lock everyone
		// out; per-account login limits still hold.
		s.opts.Logger.Warn("throttle unavailable", "scope", scope, "err", err)
		return nil
	}
	if d.Allowed {
		return nil
	}
	s.metrics.throttled.WithLabelValues(scope).Inc()
	return throttledError(d.RetryAfter)
}

// throttledError is DRF's 429.
func throttledError(wait time.Duration) *apiError {
	secs := retryAfter(wait)
	unit := "seconds"
	if secs == "1" {
		unit = "second"
	}
	return &apiError{status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {secs}},
		body: detail("Request was throttled. Expected available in " + secs + " " + unit + ".")}
}

// anon wraps an unauthenticated endpoint with the per-IP throttle.
func (s *Server) anon(h handlerFunc) handlerFunc {
	if s.opts.AnonLimiter == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.throttle(r, s.opts.AnonLimiter, "anon", throttleKey(s.clientIP(r))); err != nil {
			return err
		}
		return h(w, r)
	}
}

func (s *Server) client(r *http.Request) auth.Client {
	return auth.Client{UserAgent: r.UserAgent(), IP: s.clientIP(r)}
}

// retryAfter formats seconds for Retry-After.
func retryAfter(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}
