package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// demoFiles is the demo page (SPEC §7): login, me, orders and logout
// through seed 001's interceptor, in plain JavaScript, served from the
// binary.
//
//go:embed demo/index.html demo/demo.js demo/demo.css
var demoFiles embed.FS

// demoCSP allows latch's own files and calls only: no inline script or
// style, no other origin, no frames (data: for the empty favicon).
const demoCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// demoRoutes serves the demo page at /demo/ (and /demo) and its script
// and style sheet.
func (s *Server) demoRoutes() {
	files := make(map[string]handlerFunc)
	for name, contentType := range map[string]string{
		"index.html": "text/html; charset=utf-8",
		"demo.js":    "text/javascript; charset=utf-8",
		"demo.css":   "text/css; charset=utf-8",
	} {
		b, err := demoFiles.ReadFile("demo/" + name)
		if err != nil {
			panic(err) // cannot happen: embedded above
		}
		files[name] = serveDemoFile(name, contentType, b)
	}
	s.route("/demo/", methods{"GET": files["index.html"]})
	s.route("/demo/demo.js", methods{"GET": files["demo.js"]})
	s.route("/demo/demo.css", methods{"GET": files["demo.css"]})
}

// serveDemoFile serves an embedded file with a strong ETag, revalidated on
// every use, and the page's security headers.
func serveDemoFile(name, contentType string, content []byte) handlerFunc {
	sum := sha256.Sum256(content)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return func(w http.ResponseWriter, r *http.Request) error {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(contentType, "text/html") {
			h.Set("Content-Security-Policy", demoCSP)
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(content))
		return nil
	}
}
