package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Gateway mode (SPEC §9): every request that none of latch's own routes
// serves is proxied to Options.Upstream, only with a valid access token,
// except paths under Options.UpstreamPublic. The upstream learns the caller
// from the X-Latch-* headers, which latch alone sets.

// identityHeaderPrefix starts every header latch sets for the upstream;
// a client's own are removed whatever their case or separators.
const identityHeaderPrefix = "x-latch-"

// Timeouts and pool bounds of the default upstream transport.
const (
	upstreamDialTimeout           = 5 * time.Second
	upstreamResponseHeaderTimeout = 60 * time.Second
	upstreamIdleConnTimeout       = 90 * time.Second
	upstreamMaxIdleConns          = 512
	upstreamMaxIdleConnsPerHost   = 256
)

// NewUpstreamTransport is the transport the gateway uses unless
// Options.UpstreamTransport is set: bounded dial and response-header
// waits, and a bounded pool of idle connections.
func NewUpstreamTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: upstreamDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          upstreamMaxIdleConns,
		MaxIdleConnsPerHost:   upstreamMaxIdleConnsPerHost,
		IdleConnTimeout:       upstreamIdleConnTimeout,
		ResponseHeaderTimeout: upstreamResponseHeaderTimeout,
		TLSHandshakeTimeout:   upstreamDialTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

type proxiedKey struct{}

// proxied is what the gateway's handler tells the proxy's hooks about one
// request.
type proxied struct {
	caller *gatewayCaller // nil on a public path
	header http.Header    // the response's headers, as latch set them
}

// gateway returns the catch-all handler of gateway mode.
func (s *Server) gateway() http.Handler {
	target := s.opts.Upstream
	transport := s.opts.UpstreamTransport
	if transport == nil {
		transport = NewUpstreamTransport()
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The query as the client wrote it, as nginx passes $args:
			// httputil has dropped the parameters Go's parser refuses
			// (a=1;b=2, a bad escape) and re-encoded the rest, but the
			// upstream parses it its own way, and latch decides nothing on
			// it. SetURL then joins it to the target's, as it would have.
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.SetURL(target)
			stripIdentityHeaders(pr.Out.Header)
			s.setForwarded(pr)
			if p, ok := pr.In.Context().Value(proxiedKey{}).(*proxied); ok && p.caller != nil {
				p.caller.set(pr.Out.Header)
			}
		},
		ModifyResponse: func(res *http.Response) error {
			// The upstream's own security headers replace latch's rather
			// than doubling them.
			if p, ok := res.Request.Context().Value(proxiedKey{}).(*proxied); ok {
				for _, k := range []string{"X-Content-Type-Options", "Strict-Transport-Security"} {
					if _, set := res.Header[k]; set {
						delete(p.header, k)
					}
				}
				// latch's CORS answer, when it gave one, is the one the
				// browser reads: the upstream's would double it. The
				// headers the upstream exposes stay exposed.
				if _, set := p.header["Access-Control-Allow-Origin"]; set {
					for k, v := range res.Header {
						if !isCORSHeader(k) {
							continue
						}
						if http.CanonicalHeaderKey(k) == "Access-Control-Expose-Headers" {
							p.header["Access-Control-Expose-Headers"] = append(slices.Clip(p.header["Access-Control-Expose-Headers"]), v...)
						}
						delete(res.Header, k)
					}
				}
			}
			return nil
		},
		Transport:     transport,
		FlushInterval: -1, // streams pass through as they are written
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, upstreamError(r, err))
		},
	}
	protected := s.metrics.route("upstream")
	public := s.metrics.route("upstream_public")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		isPublic := s.publicPath(r.URL.Path)
		observe := protected
		if isPublic {
			observe = public
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // a stream cut midway: the connection is dropped
				}
				s.opts.Logger.Error("panic proxying request", "method", r.Method, "path", logPath(r), "panic", p)
				if !rec.wrote {
					s.writeError(rec, r, s.toAPIError(errors.New("panic")))
				}
			}
			if !rec.wrote && r.Header.Get("Upgrade") != "" {
				rec.status = http.StatusSwitchingProtocols // written on the hijacked connection
			}
			observe(r.Method, rec.status, time.Since(start))
		}()
		px := &proxied{header: rec.Header()}
		if !isPublic {
			// A refusal is latch's own answer and private; a proxied
			// answer's caching is the upstream's to say.
			p, err := s.authenticate(r)
			if err != nil {
				private(rec)
				s.writeError(rec, r, s.authError(err))
				return
			}
			u, err := s.opts.Auth.User(r.Context(), p)
			if err != nil {
				private(rec)
				s.writeError(rec, r, s.authError(err))
				return
			}
			px.caller = &gatewayCaller{userID: u.ID, username: u.Username, role: u.Role, email: u.Email, session: p.SessionID}
		}
		r = r.WithContext(context.WithValue(r.Context(), proxiedKey{}, px))
		// Streams outlive the server's write timeout: the upstream and the
		// transport's timeouts bound them instead. (An upgraded connection
		// is hijacked, and net/http clears its deadlines then.)
		http.NewResponseController(w).SetWriteDeadline(time.Time{})
		proxy.ServeHTTP(rec, r)
	})
}

// gatewayCaller is the identity sent upstream.
type gatewayCaller struct {
	userID                int64
	username, role, email string
	session               string
}

func (c *gatewayCaller) set(h http.Header) {
	setIdentity(h, c.userID, c.username, c.role, c.session, c.email)
}

// stripIdentityHeaders removes every header that a WSGI or CGI server
// could read as an X-Latch-* header: any case, '-' or '_' as separator.
func stripIdentityHeaders(h http.Header) {
	for k := range h {
		if len(k) >= len(identityHeaderPrefix) &&
			strings.EqualFold(strings.ReplaceAll(k[:len(identityHeaderPrefix)], "_", "-"), identityHeaderPrefix) {
			delete(h, k)
		}
	}
}

// setForwarded sets X-Forwarded-For/Host/Proto. The incoming chain and
// the original host and scheme are kept only from a trusted proxy.
func (s *Server) setForwarded(pr *httputil.ProxyRequest) {
	trusted := s.trustedPeer(pr.In.RemoteAddr)
	if trusted {
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	if !trusted {
		return
	}
	if v := pr.In.Header.Get("X-Forwarded-Host"); v != "" {
		pr.Out.Header.Set("X-Forwarded-Host", v)
	}
	if v := pr.In.Header.Get("X-Forwarded-Proto"); v != "" {
		pr.Out.Header.Set("X-Forwarded-Proto", v)
	}
}

func (s *Server) trustedPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && s.trusted(a.Unmap())
}

// publicPath reports whether path is under one of the public prefixes.
func (s *Server) publicPath(path string) bool {
	for _, p := range s.opts.UpstreamPublic {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// ParseUpstream checks an upstream URL for gateway mode: http or https,
// with a host.
func ParseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("want http://host:port or https://host:port")
	}
	return u, nil
}
