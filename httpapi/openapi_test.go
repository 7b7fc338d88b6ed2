package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// The OpenAPI document is checked three ways: here, that it is a valid
// OpenAPI 3.1 document, consistent in itself, and that it lists exactly
// the routes a Server registers; in cmd/latch's docs_test.go, that real
// responses match it.

// openAPIMap is the document as plain JSON, for walking it.
func openAPIMap(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// docOperation is one documented path and method.
type docOperation struct {
	method, path string
	op           map[string]any
}

func (o docOperation) String() string { return o.method + " " + o.path }

// requires is the setting an operation is served under (x-latch-requires).
func (o docOperation) requires() string { s, _ := o.op["x-latch-requires"].(string); return s }

func documentedOperations(t *testing.T, doc map[string]any) []docOperation {
	t.Helper()
	var ops []docOperation
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				ops = append(ops, docOperation{strings.ToUpper(method), path, op.(map[string]any)})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

// resolve follows a local $ref.
func resolve(t *testing.T, doc map[string]any, v map[string]any) map[string]any {
	t.Helper()
	ref, ok := v["$ref"].(string)
	if !ok {
		return v
	}
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("$ref %s does not resolve", ref)
		}
		cur = m[part]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("$ref %s does not resolve", ref)
	}
	return resolve(t, doc, m)
}

func TestOpenAPIDocumentIsValid31(t *testing.T) {
	doc, err := libopenapi.NewDocument(openAPIDocument)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("OpenAPI version %q, want 3.1.x", v)
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Fatalf("build model: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s (%s)", se.Reason, se.FieldPath, se.KeywordLocation)
			}
		}
	}
}

func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	doc := openAPIMap(t)
	ids := map[string]string{}
	refRE := regexp.MustCompile(`"\$ref":\s*"([^"]+)"`)
	for _, m := range refRE.FindAllSubmatch(openAPIDocument, -1) {
		resolve(t, doc, map[string]any{"$ref": string(m[1])}) // every $ref resolves
	}
	for _, o := range documentedOperations(t, doc) {
		t.Run(o.String(), func(t *testing.T) {
			id, _ := o.op["operationId"].(string)
			if id == "" {
				t.Error("no operationId")
			} else if prev, dup := ids[id]; dup {
				t.Errorf("operationId %s also on %s", id, prev)
			}
			ids[id] = o.String()
			if s, _ := o.op["summary"].(string); s == "" {
				t.Error("no summary")
			}
			responses := o.op["responses"].(map[string]any)
			has := func(code string) bool { _, ok := responses[code]; return ok }
			if !slices.ContainsFunc([]string{"200", "201", "204", "205"}, has) {
				t.Error("no success response")
			}
			if _, ok := responses["default"]; ok {
				t.Error("a default response would let any status validate")
			}
			security, stated := o.op["security"].([]any)
			if !stated {
				t.Error("no security: a public operation says `security: []`")
			}
			if len(security) > 0 && !has("401") {
				t.Error("protected operation documents no 401")
			}
			if _, body := o.op["requestBody"]; body {
				for _, code := range []string{"400", "413", "415"} {
					if !has(code) {
						t.Errorf("operation with a body documents no %s", code)
					}
				}
				rb := resolve(t, doc, o.op["requestBody"].(map[string]any))
				for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
					if _, ok := rb["content"].(map[string]any)[ct]; !ok {
						t.Errorf("request body not documented as %s", ct)
					}
				}
			}
			for code, r := range responses {
				resp := resolve(t, doc, r.(map[string]any))
				headers, _ := resp["headers"].(map[string]any)
				want := map[string]string{"401": "WWW-Authenticate", "429": "Retry-After", "503": "Retry-After"}[code]
				if want != "" && headers[want] == nil && o.path != "/readyz" {
					t.Errorf("%s response documents no %s header", code, want)
				}
				content, _ := resp["content"].(map[string]any)
				switch {
				case code == "200" && o.path == "/api/auth/check/": // forward auth: headers only
					if content != nil {
						t.Errorf("%s response has content", code)
					}
				case code == "204", code == "205":
					if content != nil {
						t.Errorf("%s response has content", code)
					}
				default:
					if content == nil {
						t.Errorf("%s response documents no content", code)
					}
				}
			}
		})
	}
}

// forwardAuthMethods are the methods an OpenAPI document can name, but
// TRACE (which proxies refuse themselves): /api/auth/check/ answers each.
var forwardAuthMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// registeredRoutes lists the routes s registered, as "METHOD pattern": the
// patterns from the per-route latency histograms (bound at registration),
// the methods from each route's answer to OPTIONS.
func registeredRoutes(t *testing.T, s *Server) []string {
	t.Helper()
	families, err := s.opts.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, f := range families {
		if f.GetName() != "latch_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "route" || l.GetValue() == "other" {
					continue
				}
				pattern := l.GetValue()
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest("OPTIONS", examplePath(pattern), nil))
				allow := rec.Header().Get("Allow")
				if pattern == "/api/auth/check/" {
					// Forward auth answers every method alike, OPTIONS
					// and HEAD too: each it answers as forward auth (401
					// without a token) is served.
					for _, method := range forwardAuthMethods {
						rec := httptest.NewRecorder()
						s.ServeHTTP(rec, httptest.NewRequest(method, pattern, nil))
						if rec.Code == http.StatusUnauthorized {
							routes = append(routes, method+" "+pattern)
						}
					}
					continue
				}
				if rec.Code != http.StatusOK || allow == "" {
					t.Fatalf("OPTIONS %s: %d, Allow %q", pattern, rec.Code, allow)
				}
				for _, method := range strings.Split(allow, ", ") {
					if method != "HEAD" && method != "OPTIONS" {
						routes = append(routes, method+" "+pattern)
					}
				}
			}
		}
	}
	// The histogram of a route is created when the route is registered;
	// should that change, this list would come up empty, not wrong.
	if len(routes) < 15 {
		t.Fatalf("found only %d routes through the metrics registry: %v", len(routes), routes)
	}
	sort.Strings(routes)
	return routes
}

// examplePath fills a route pattern's wildcards.
func examplePath(pattern string) string {
	return strings.NewReplacer("{id}", "0123456789abcdef", "{file}", "docs.js").Replace(pattern)
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	s := newFuzzServer(t)
	registered := registeredRoutes(t, s)
	var documented []string
	for _, o := range documentedOperations(t, openAPIMap(t)) {
		if !slices.Contains(registered, o.String()) && o.requires() != "" {
			continue // served only under a setting this Server does not have
		}
		documented = append(documented, o.String())
	}
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("%s is in openapi.json but not served", d)
		}
	}
}

func TestOpenAPIOperationsAreServed(t *testing.T) {
	s := newFuzzServer(t)
	for _, o := range documentedOperations(t, openAPIMap(t)) {
		if o.requires() != "" {
			continue // cmd/latch's docs_test.go turns the settings on
		}
		for _, path := range []string{examplePath(o.path), strings.TrimSuffix(examplePath(o.path), "/")} {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(o.method, path, nil))
			if rec.Code == http.StatusMethodNotAllowed || (rec.Code == http.StatusNotFound && rec.Body.String() == `{"detail":"Not found."}` &&
				o.path != "/api/orders/") { // the example resource is a 404 without an order store
				t.Errorf("%s %s: %d %s", o.method, path, rec.Code, rec.Body)
			}
		}
	}
}

func TestSchemaAndDocsServed(t *testing.T) {
	s := newFuzzServer(t)
	get := func(path string, header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	for _, path := range []string{"/api/schema/", "/api/schema"} {
		r := get(path)
		if r.Code != 200 || r.Header().Get("Content-Type") != "application/json" || r.Body.String() != string(openAPIDocument) {
			t.Errorf("GET %s: %d %q, body of %d bytes", path, r.Code, r.Header().Get("Content-Type"), r.Body.Len())
		}
		etag := r.Header().Get("ETag")
		if r := get(path, "If-None-Match", etag); etag == "" || r.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s: %d", path, etag, r.Code)
		}
	}

	page := get("/api/docs/")
	if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /api/docs/: %d %q", page.Code, page.Header().Get("Content-Type"))
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("CSP %q", csp)
	}
	if r := get("/api/docs"); r.Code != 200 || r.Body.String() != page.Body.String() {
		t.Errorf("GET /api/docs: %d", r.Code)
	}
	html := page.Body.String()
	// Every script is a file (the CSP allows no inline script), and every
	// file the page loads is served from here: no CDN.
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(html) {
		t.Error("inline script in the Swagger UI page")
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 4 {
		t.Fatalf("page references %v", refs)
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
	for _, m := range refs {
		ref := m[1]
		if ref == "/api/schema/" {
			continue
		}
		if !strings.HasPrefix(ref, "/api/docs/") {
			t.Errorf("page loads %s from elsewhere", ref)
			continue
		}
		r := get(ref)
		ext := ref[strings.LastIndexByte(ref, '.'):]
		if r.Code != 200 || !strings.HasPrefix(r.Header().Get("Content-Type"), wantType[ext]) || r.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q", ref, r.Code, r.Header().Get("Content-Type"))
		}
	}
	if r := get("/api/docs/nope.js"); r.Code != 404 || r.Body.String() != `{"detail":"Not found."}` {
		t.Errorf("GET /api/docs/nope.js: %d %s", r.Code, r.Body)
	}

	init := get("/api/docs/docs.js").Body.String()
	for _, want := range []string{`url: "/api/schema/"`, "persistAuthorization: false", "validatorUrl: null"} {
		if !strings.Contains(init, want) {
			t.Errorf("docs.js lacks %s", want)
		}
	}
	if strings.Contains(init+html, "//cdn") || regexp.MustCompile(`https?://`).MatchString(init+html) {
		t.Error("the page or its initializer names an external URL")
	}

	// swaggerui/README.md records the version that is embedded.
	readme, err := os.ReadFile("swaggerui/README.md")
	if err != nil {
		t.Fatal(err)
	}
	bundle := get("/api/docs/swagger-ui-bundle.js").Body.String()
	m := regexp.MustCompile(`PACKAGE_VERSION:"([0-9.]+)"`).FindStringSubmatch(bundle)
	if m == nil || !strings.Contains(string(readme), fmt.Sprintf("swagger-ui-dist %s ", m[1])) {
		t.Errorf("swaggerui/README.md does not record the bundle's version %v", m)
	}
}
