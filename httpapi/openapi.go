package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// openAPIDocument is latch's OpenAPI 3.1 document, written by hand so that
// the wire format stays SimpleJWT's; cmd/latch's tests drive real requests
// and validate every response against it, so it cannot drift.
//
//go:embed openapi.json
var openAPIDocument []byte

// swaggerUI is Swagger UI (npm swagger-ui-dist, see swaggerui/README.md)
// with latch's own page and initializer.
//
//go:embed swaggerui/index.html swaggerui/docs.js swaggerui/docs.css
//go:embed swaggerui/swagger-ui-bundle.js swaggerui/swagger-ui-bundle.js.LICENSE.txt swaggerui/swagger-ui.css
//go:embed swaggerui/favicon-16x16.png swaggerui/favicon-32x32.png swaggerui/LICENSE swaggerui/NOTICE
var swaggerUI embed.FS

// docsCSP is the Content-Security-Policy of the Swagger UI page: scripts
// and styles from latch only (the initializer is a file, not an inline
// script), calls to latch only, no frames, no forms. Swagger UI draws its
// icons as data: images. e2e/ runs the page under it in Chromium and fails
// on any violation.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docRoutes serves the OpenAPI document and Swagger UI.
func (s *Server) docRoutes() {
	s.route("/api/schema/", methods{"GET": func(w http.ResponseWriter, r *http.Request) error {
		docFiles().schema.serve(w, r)
		return nil
	}})
	s.route("/api/docs/", methods{"GET": func(w http.ResponseWriter, r *http.Request) error {
		docFiles().ui["index.html"].serve(w, r)
		return nil
	}})
	s.route("/api/docs/{file}", methods{"GET": func(w http.ResponseWriter, r *http.Request) error {
		f, ok := docFiles().ui[r.PathValue("file")]
		if !ok {
			return errNotFound
		}
		f.serve(w, r)
		return nil
	}})
}

// docAssets are the files /api/schema/ and /api/docs/ serve.
type docAssets struct {
	schema *staticFile
	ui     map[string]*staticFile // by name
}

// docFiles indexes the embedded files once, on first use: a server that
// never serves the docs never hashes the 2 MB of Swagger UI. The result is
// never modified.
var docFiles = sync.OnceValue(func() *docAssets {
	return &docAssets{
		schema: newStaticFile("openapi.json", "application/json", openAPIDocument),
		ui:     loadSwaggerUI(),
	}
})

// staticFile is an embedded file served with a strong ETag, revalidated on
// every use (the binary, not a version in the URL, decides its content).
type staticFile struct {
	name, contentType, etag string
	content                 []byte
}

func newStaticFile(name, contentType string, content []byte) *staticFile {
	sum := sha256.Sum256(content)
	return &staticFile{name: name, contentType: contentType, content: content,
		etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

func (f *staticFile) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(f.contentType, "text/html") {
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
	}
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.content))
}

// loadSwaggerUI indexes the embedded Swagger UI files by name.
func loadSwaggerUI() map[string]*staticFile {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".png":  "image/png",
		".txt":  "text/plain; charset=utf-8",
		"":      "text/plain; charset=utf-8",
	}
	out := make(map[string]*staticFile)
	entries, _ := fs.ReadDir(swaggerUI, "swaggerui")
	for _, e := range entries {
		b, err := fs.ReadFile(swaggerUI, "swaggerui/"+e.Name())
		if err != nil {
			continue // cannot happen: embedded
		}
		out[e.Name()] = newStaticFile(e.Name(), types[path.Ext(e.Name())], b)
	}
	return out
}
