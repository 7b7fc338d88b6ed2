package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// CORS (Options.CORSOrigins): the pages of the listed origins may call
// latch from a browser with credentials, as django-cors-headers'
// CORS_ALLOWED_ORIGINS with CORS_ALLOW_CREDENTIALS, and the cookie
// endpoints' CSRF check trusts them, as Django's CSRF_TRUSTED_ORIGINS. A
// request from any other origin gets no CORS header: the browser keeps the
// answer from the page, and the CSRF check still refuses it.

// Preflight answers, as django-cors-headers' defaults.
var (
	corsAllowMethods  = []string{"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"}
	corsMaxAge        = []string{"86400"}
	corsCredentials   = []string{"true"}
	corsExposeHeaders = []string{"Retry-After"} // a 429's or 503's wait
	corsVary          = "Origin"
)

// cors is the set of allowed origins, as browsers write them in Origin.
type cors map[string]bool

// newCORS checks and normalizes origins; nil when there are none.
func newCORS(origins []string) (cors, error) {
	if len(origins) == 0 {
		return nil, nil
	}
	c := make(cors, len(origins))
	for _, o := range origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		c[n] = true
	}
	return c, nil
}

// NormalizeOrigin returns origin as a browser sends it in an Origin header
// (lower-case scheme and host, no default port), or an error when origin is
// not scheme://host[:port] with an http or https scheme.
func NormalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	bad := func(why string) error {
		return fmt.Errorf("origin %q: %s; want scheme://host[:port], such as https://app.example.com", origin, why)
	}
	switch {
	case err != nil:
		return "", bad("not a URL")
	case origin == "*":
		return "", bad("a wildcard cannot be allowed with credentials: list the origins")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("the scheme is not http or https")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("no host")
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(origin, "#"):
		return "", bad("an origin has no path, query or user")
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	// What a browser could never send would never match: say so.
	switch {
	case strings.Contains(host, "*"):
		return "", bad("list each origin; a pattern is not matched")
	case strings.HasSuffix(host, "."):
		return "", bad("the host ends with a dot")
	case strings.IndexFunc(host, func(r rune) bool { return r > unicode.MaxASCII }) >= 0:
		return "", bad("write an international host name in its ASCII (punycode, xn--) form, as browsers send it")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", bad("the port is not a number from 1 to 65535")
		}
		port = strconv.Itoa(n)
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// apply sets the CORS headers of r's answer, and answers a preflight from an
// allowed origin itself (before any route or token check: a preflight
// carries no credentials). It reports whether it answered.
func (c cors) apply(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	// Every answer depends on Origin once CORS is on: a shared cache must
	// not hand one origin's answer to another.
	h.Add("Vary", corsVary)
	origin := r.Header["Origin"]
	if len(origin) != 1 || !c[origin[0]] {
		return false
	}
	h["Access-Control-Allow-Origin"] = origin
	h["Access-Control-Allow-Credentials"] = corsCredentials
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		h["Access-Control-Expose-Headers"] = corsExposeHeaders
		return false
	}
	h["Access-Control-Allow-Methods"] = corsAllowMethods
	if asked := r.Header.Values("Access-Control-Request-Headers"); len(asked) > 0 {
		// The origin is trusted with credentials already; what headers its
		// requests carry (Authorization, Content-Type, its own for an
		// upstream) is the handler's concern.
		h["Access-Control-Allow-Headers"] = []string{strings.Join(asked, ", ")}
	}
	h["Access-Control-Max-Age"] = corsMaxAge
	w.WriteHeader(http.StatusNoContent)
	return true
}

// isCORSHeader reports whether k is a response header of CORS.
func isCORSHeader(k string) bool {
	return len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-")
}
