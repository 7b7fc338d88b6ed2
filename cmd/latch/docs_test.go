package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"
)

// contract validates real responses against the OpenAPI document that
// latch serves at /api/schema/: status, content type, body and documented
// headers, with libopenapi-validator (OpenAPI 3.1, JSON Schema 2020-12).
// It is what keeps the document from drifting from the handlers.
type contract struct {
	t     *testing.T
	v     validator.Validator
	model *v3.Document
	// covered records "METHOD path status" of every validated response.
	covered map[string]bool
}

func newContract(t *testing.T, ts *testServer) *contract {
	t.Helper()
	r := ts.do("GET", "/api/schema/", "", "")
	if r.status != 200 {
		t.Fatalf("GET /api/schema/: %d", r.status)
	}
	doc, err := libopenapi.NewDocument([]byte(r.body))
	if err != nil {
		t.Fatal(err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return &contract{t: t, v: v, model: &m.Model, covered: map[string]bool{}}
}

// docPath is the documented form of a request path: the document lists
// each path once, with the trailing slash latch also serves without.
func docPath(p string) string {
	if strings.HasPrefix(p, "/api/") && !strings.HasSuffix(p, "/") && !strings.HasPrefix(p, "/api/docs/") {
		return p + "/"
	}
	return p
}

// operation is the documented operation and path template for a request.
func (c *contract) operation(method, path string) (*v3.Operation, string) {
	for tmpl, item := range c.model.Paths.PathItems.FromOldest() {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), "[^/]+") + "$")
		if !re.MatchString(path) {
			continue
		}
		for m, op := range item.GetOperations().FromOldest() {
			if strings.EqualFold(m, method) {
				return op, tmpl
			}
		}
	}
	return nil, ""
}

// check sends a request, wants status, and validates the response (and,
// for a success, the request) against the document.
func (c *contract) check(ts *testServer, wantStatus int, method, path, contentType, body string, header ...string) response {
	c.t.Helper()
	return c.checkAs(ts, wantStatus, method, path, docPath(path), contentType, body, header...)
}

// checkAs is check for a request to path that the document says answers
// as the operation at docAs does: the default configuration's contract
// is the document, and its description names the operations that a
// setting makes other paths answer like (LATCH_COOKIE_MODE=on: the token
// endpoints answer as the cookie endpoints).
func (c *contract) checkAs(ts *testServer, wantStatus int, method, path, docAs, contentType, body string, header ...string) response {
	c.t.Helper()
	r := ts.do(method, path, contentType, body, header...)
	if r.status != wantStatus {
		c.t.Errorf("%s %s: got %d %s, want %d", method, path, r.status, r.body, wantStatus)
	}
	req, err := http.NewRequest(method, ts.URL+docAs, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res := &http.Response{StatusCode: r.status, Header: r.header, Body: io.NopCloser(strings.NewReader(r.body)), Request: req}
	what := method + " " + path + " → " + r.header.Get("Content-Type") + " " + http.StatusText(r.status)
	if ok, errs := c.v.ValidateHttpResponse(req, res); !ok {
		for _, e := range errs {
			c.t.Errorf("%s: response does not match openapi.json: %s: %s", what, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				c.t.Errorf("    %s at %s", se.Reason, se.FieldPath)
			}
		}
		c.t.Errorf("    body: %s", r.body)
	}
	op, tmpl := c.operation(method, docAs)
	if op == nil {
		c.t.Errorf("%s: not documented", what)
		return r
	}
	code := strconv.Itoa(r.status)
	c.covered[method+" "+tmpl+" "+code] = true
	if doc := op.Responses.Codes.GetOrZero(code); doc != nil && orderedmap.Len(doc.Content) == 0 && r.body != "" {
		c.t.Errorf("%s: documented without content, but the body is %q", what, r.body)
	}
	if r.status < 300 {
		req.Body = io.NopCloser(strings.NewReader(body))
		if ok, errs := c.v.ValidateHttpRequest(req); !ok {
			for _, e := range errs {
				c.t.Errorf("%s: the request does not match openapi.json: %s: %s", what, e.Message, e.Reason)
			}
		}
	}
	return r
}

// checkComponent validates a response that no operation describes (405 to
// a method a path does not serve, 404 to an unknown path) against the
// document's reusable response of that name.
func (c *contract) checkComponent(r response, wantStatus int, name string) {
	c.t.Helper()
	doc := c.model.Components.Responses.GetOrZero(name)
	if doc == nil {
		c.t.Fatalf("components.responses.%s not documented", name)
	}
	for h, hdr := range doc.Headers.FromOldest() {
		if hdr.Required && r.header.Get(h) == "" {
			c.t.Errorf("%d response lacks the documented header %s", r.status, h)
		}
	}
	mt := doc.Content.GetOrZero(r.header.Get("Content-Type"))
	if mt == nil {
		c.t.Fatalf("%d response: content type %q not documented for %s", r.status, r.header.Get("Content-Type"), name)
	}
	c.checkBody(r, wantStatus, mt.Schema.Schema(), "components.responses."+name)
}

// checkSchema validates a response that the document describes in words,
// naming the schema it takes (a refresh with rotation off answers
// AccessToken), against components.schemas.<name>.
func (c *contract) checkSchema(r response, wantStatus int, name string) {
	c.t.Helper()
	s := c.model.Components.Schemas.GetOrZero(name)
	if s == nil {
		c.t.Fatalf("components.schemas.%s not documented", name)
	}
	c.checkBody(r, wantStatus, s.Schema(), "components.schemas."+name)
}

// checkBody wants r's status and validates its body against schema, the
// document's at where.
func (c *contract) checkBody(r response, wantStatus int, schema *base.Schema, where string) {
	c.t.Helper()
	if r.status != wantStatus {
		c.t.Errorf("got %d %s, want %d", r.status, r.body, wantStatus)
	}
	if ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaString(schema, r.body); !ok {
		for _, e := range errs {
			c.t.Errorf("%d %s does not match %s: %s", r.status, r.body, where, e.Reason)
		}
	}
}

// TestDocsMatchResponses drives every documented operation through its
// success and error answers and validates each real response against
// the document.
func TestDocsMatchResponses(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SLIDING_TOKENS": "on", "LATCH_INTROSPECTION_CLIENTS": introspectionClients})
	c := newContract(t, ts)
	const js, form = "application/json", "application/x-www-form-urlencoded"
	creds := `{"username":"alice","password":"` + testPassword + `"}`
	ts.mustUser("alice")
	ts.mustUser("bob")

	// Token endpoints.
	r := c.check(ts, 200, "POST", "/api/token/", js, creds)
	p := pair{r.str(t, "access"), r.str(t, "refresh")}
	c.check(ts, 200, "POST", "/api/token/", form, url.Values{"username": {"alice"}, "password": {testPassword}}.Encode())
	c.check(ts, 200, "POST", "/api/token", js, creds)
	c.check(ts, 401, "POST", "/api/token/", js, `{"username":"alice","password":"nope"}`)
	c.check(ts, 400, "POST", "/api/token/", js, `{}`)
	c.check(ts, 400, "POST", "/api/token/", js, `{"username":" ","password":"x"}`)
	c.check(ts, 400, "POST", "/api/token/", js, `{"username":`)
	c.check(ts, 400, "POST", "/api/token/", js, `[1]`)
	c.check(ts, 415, "POST", "/api/token/", "text/plain", "username=alice")
	c.check(ts, 413, "POST", "/api/token/", js, `{"username":"`+strings.Repeat("a", 70<<10)+`"}`)
	c.checkComponent(ts.do("GET", "/api/token/", "", ""), 405, "MethodNotAllowed")
	c.checkComponent(ts.do("GET", "/nope", "", ""), 404, "NotFound")

	r = c.check(ts, 200, "POST", "/api/token/refresh/", js, `{"refresh":"`+p.refresh+`"}`)
	p = pair{r.str(t, "access"), r.str(t, "refresh")}
	c.check(ts, 401, "POST", "/api/token/refresh/", js, `{"refresh":"garbage"}`)
	c.check(ts, 401, "POST", "/api/token/refresh/", js, `{"refresh":"`+p.access+`"}`)
	c.check(ts, 400, "POST", "/api/token/refresh/", form, "")

	c.check(ts, 200, "POST", "/api/token/verify/", js, `{"token":"`+p.access+`"}`)
	c.check(ts, 401, "POST", "/api/token/verify/", js, `{"token":"junk"}`)
	c.check(ts, 400, "POST", "/api/token/verify/", js, `{}`)

	victim := ts.mustLogin("alice")
	c.check(ts, 200, "POST", "/api/token/blacklist/", form, url.Values{"refresh": {victim.refresh}}.Encode())
	c.check(ts, 401, "POST", "/api/token/blacklist/", js, `{"refresh":"`+victim.refresh+`"}`)
	c.check(ts, 400, "POST", "/api/token/verify/", js, `{"token":"`+victim.refresh+`"}`) // non_field_errors

	r = c.check(ts, 200, "POST", "/api/token/sliding/", js, creds)
	sliding := r.str(t, "token")
	c.check(ts, 200, "POST", "/api/token/sliding/refresh/", js, `{"token":"`+sliding+`"}`)
	c.check(ts, 401, "POST", "/api/token/sliding/refresh/", js, `{"token":"`+p.access+`"}`)
	c.check(ts, 401, "POST", "/api/token/sliding/", js, `{"username":"alice","password":"nope"}`)
	c.check(ts, 400, "POST", "/api/token/sliding/refresh/", js, `{}`)

	// Protected endpoints and the Authorization header.
	now := ts.clock.Now().Unix()
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	c.check(ts, 200, "GET", "/api/me/", "", "", bearer(p.access)...)
	c.check(ts, 200, "GET", "/api/me", "", "", bearer(p.access)...)
	c.check(ts, 401, "GET", "/api/me/", "", "")
	c.check(ts, 401, "GET", "/api/me/", "", "", "Authorization", "Bearer a b")
	c.check(ts, 401, "GET", "/api/me/", "", "", bearer("garbage")...)
	c.check(ts, 401, "GET", "/api/me/", "", "", bearer(ts.mint(hs, map[string]any{"token_type": "access", "exp": now + 60, "iat": now, "jti": newJTI(), "user_id": 999}))...)
	c.check(ts, 401, "GET", "/api/me/", "", "", bearer(victim.access)...)
	c.checkComponent(ts.do("DELETE", "/api/me/", "", ""), 405, "MethodNotAllowed")

	r = c.check(ts, 200, "GET", "/api/orders/", "", "", bearer(p.access)...)
	if cached, _ := r.json(t)["cached"].(bool); cached {
		t.Errorf("first orders call cached: %s", r.body)
	}
	r = c.check(ts, 200, "GET", "/api/orders/", "", "", bearer(p.access)...)
	if cached, _ := r.json(t)["cached"].(bool); !cached {
		t.Errorf("second orders call not cached: %s", r.body)
	}
	c.check(ts, 401, "GET", "/api/orders/", "", "")

	// latch in front of other backends.
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
		r := c.check(ts, 200, method, "/api/auth/check/", "", "", bearer(p.access)...)
		if r.header.Get("X-Latch-Username") != "alice" || r.body != "" {
			t.Errorf("%s /api/auth/check/: X-Latch-Username %q, body %q", method, r.header.Get("X-Latch-Username"), r.body)
		}
		if method == "HEAD" {
			continue // no body to validate against Unauthorized
		}
		c.check(ts, 401, method, "/api/auth/check/", "", "")
		c.check(ts, 401, method, "/api/auth/check/", "", "", bearer("garbage")...)
	}
	c.check(ts, 200, "POST", "/api/token/introspect/", form, url.Values{"token": {p.access}}.Encode(), introspectionAuth...)
	c.check(ts, 200, "POST", "/api/token/introspect/", js, `{"token":"`+p.refresh+`","token_type_hint":"refresh_token"}`, introspectionAuth...)
	c.check(ts, 200, "POST", "/api/token/introspect/", js, `{"token":"garbage"}`, introspectionAuth...)
	c.check(ts, 400, "POST", "/api/token/introspect/", js, `{}`, introspectionAuth...)
	c.check(ts, 401, "POST", "/api/token/introspect/", js, `{"token":"garbage"}`)

	c.check(ts, 201, "POST", "/api/signup/", js, `{"username":"carol","password":"a fine long secret","email":"c@example.com"}`)
	c.check(ts, 201, "POST", "/api/signup/", form, url.Values{"username": {"dave"}, "password": {"a fine long secret"}}.Encode())
	c.check(ts, 400, "POST", "/api/signup/", js, `{"username":"Carol","password":"a fine long secret"}`)
	c.check(ts, 400, "POST", "/api/signup/", js, `{"username":"erin","password":"short"}`)

	other := ts.mustLogin("alice")
	r = c.check(ts, 200, "GET", "/api/sessions/", "", "", bearer(p.access)...)
	if !strings.Contains(r.body, `"current":true`) {
		t.Errorf("sessions: %s", r.body)
	}
	c.check(ts, 401, "GET", "/api/sessions/", "", "")
	otherClaims, err := ts.app.Tokens().Parse(other.access, "access")
	if err != nil {
		t.Fatal(err)
	}
	c.check(ts, 404, "DELETE", "/api/sessions/nosuchsession/", "", "", bearer(p.access)...)
	c.check(ts, 204, "DELETE", "/api/sessions/"+otherClaims.SessionID+"/", "", "", bearer(p.access)...)
	c.check(ts, 401, "DELETE", "/api/sessions/"+otherClaims.SessionID+"/", "", "")

	c.check(ts, 400, "POST", "/api/password/", js, `{"old_password":"wrong","new_password":"a much better secret"}`, bearer(p.access)...)
	c.check(ts, 400, "POST", "/api/password/", js, `{}`, bearer(p.access)...)
	c.check(ts, 204, "POST", "/api/password/", js, `{"old_password":"`+testPassword+`","new_password":"a much better secret"}`, bearer(p.access)...)
	c.check(ts, 401, "POST", "/api/password/", js, `{}`)

	c.check(ts, 400, "POST", "/api/logout/", js, `{}`, bearer(p.access)...)
	c.check(ts, 400, "POST", "/api/logout/", js, `{"refresh":"junk"}`, bearer(p.access)...)
	c.check(ts, 401, "POST", "/api/logout/", js, `{"refresh":"`+p.refresh+`"}`)
	c.check(ts, 415, "POST", "/api/logout/", "text/plain", "refresh", bearer(p.access)...)
	c.check(ts, 205, "POST", "/api/logout/", js, `{"refresh":"`+p.refresh+`"}`, bearer(p.access)...)

	ts.mustUser("frank")
	f := ts.mustLogin("frank")
	c.check(ts, 205, "POST", "/api/logout/all/", "", "", bearer(f.access)...)
	c.check(ts, 401, "POST", "/api/logout/all/", "", "", bearer(f.access)...)

	// Cookie endpoints.
	r = c.check(ts, 200, "POST", "/api/cookie/login/", js, `{"username":"bob","password":"`+testPassword+`"}`)
	cookie := refreshSetCookie(t, r)
	r = c.check(ts, 200, "POST", "/api/cookie/refresh/", "", "", cookieHeader(cookie)...)
	cookie = refreshSetCookie(t, r)
	c.check(ts, 403, "POST", "/api/cookie/refresh/", "", "", append(cookieHeader(cookie), "Sec-Fetch-Site", "cross-site")...)
	c.check(ts, 401, "POST", "/api/cookie/refresh/", "", "")
	c.check(ts, 401, "POST", "/api/cookie/login/", js, `{"username":"bob","password":"nope"}`)
	c.check(ts, 205, "POST", "/api/cookie/logout/", "", "", cookieHeader(cookie)...)
	c.check(ts, 401, "POST", "/api/cookie/refresh/", "", "", cookieHeader(cookie)...) // clears the cookie
	c.check(ts, 403, "POST", "/api/cookie/logout/", "", "", "Origin", "https://evil.example")
	c.check(ts, 400, "POST", "/api/cookie/logout/", "", "")
	c.check(ts, 403, "POST", "/api/cookie/login/", js, `{"username":"bob","password":"`+testPassword+`"}`, "Sec-Fetch-Site", "cross-site")

	// The admin API.
	_, root := ts.mustRole("root", "admin")
	as := bearer(root.access)
	c.check(ts, 200, "GET", "/api/admin/users/", "", "", as...)
	c.check(ts, 200, "GET", "/api/admin/users/?page_size=2&search=a", "", "", as...)
	c.check(ts, 404, "GET", "/api/admin/users/?page=9", "", "", as...)
	c.check(ts, 403, "GET", "/api/admin/users/", "", "", bearer(ts.mustLogin("bob").access)...)
	c.check(ts, 401, "GET", "/api/admin/users/", "", "")
	r = c.check(ts, 201, "POST", "/api/admin/users/", js, `{"username":"gina","password":"a fine long secret","email":"g@example.com","role":"staff","is_active":true}`, as...)
	gina := fmt.Sprintf("/api/admin/users/%d/", int64(r.json(t)["id"].(float64)))
	c.check(ts, 201, "POST", "/api/admin/users/", form, url.Values{"username": {"hank"}, "password": {"a fine long secret"}, "is_active": {"false"}}.Encode(), as...)
	c.check(ts, 400, "POST", "/api/admin/users/", js, `{"username":"gina","password":"a fine long secret"}`, as...)
	c.check(ts, 200, "GET", gina, "", "", as...)
	c.check(ts, 404, "GET", "/api/admin/users/9999/", "", "", as...)
	c.check(ts, 200, "PATCH", gina, js, `{"email":"gina@example.com","role":"user","is_active":true}`, as...)
	c.check(ts, 400, "PATCH", gina, js, `{"role":""}`, as...)
	c.check(ts, 200, "GET", gina+"sessions/", "", "", as...)
	c.check(ts, 205, "POST", gina+"logout/", "", "", as...)
	c.check(ts, 204, "DELETE", gina, "", "", as...)
	c.check(ts, 404, "DELETE", gina, "", "", as...)

	// Keys, docs and operations.
	c.check(ts, 200, "GET", "/.well-known/jwks.json", "", "")
	c.check(ts, 200, "GET", "/api/schema/", "", "")
	c.check(ts, 200, "GET", "/api/schema", "", "")
	c.check(ts, 200, "GET", "/api/docs/", "", "")
	for _, file := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "docs.js", "favicon-32x32.png", "LICENSE"} {
		c.check(ts, 200, "GET", "/api/docs/"+file, "", "")
	}
	c.check(ts, 404, "GET", "/api/docs/nope.js", "", "")
	for _, file := range []string{"", "demo.js", "demo.css"} {
		c.check(ts, 200, "GET", "/demo/"+file, "", "")
	}
	c.check(ts, 200, "GET", "/healthz", "", "")
	c.check(ts, 200, "GET", "/readyz", "", "")
	c.check(ts, 200, "GET", "/metrics", "", "")

	t.Run("cookie mode", func(t *testing.T) {
		ts := newTestServer(t, map[string]string{"LATCH_COOKIE_MODE": "on"})
		c := c.with(t)
		ts.mustUser("alice")
		// The token endpoints answer as the cookie endpoints (the
		// document's description says so): no refresh in the body.
		r := c.checkAs(ts, 200, "POST", "/api/token/", "/api/cookie/login/", js, creds)
		access := r.str(t, "access")
		cookie := refreshSetCookie(t, r)
		r = c.checkAs(ts, 200, "POST", "/api/token/refresh/", "/api/cookie/refresh/", "", "", cookieHeader(cookie)...)
		c.checkAs(ts, 403, "POST", "/api/token/refresh/", "/api/cookie/refresh/", "", "", append(cookieHeader(refreshSetCookie(t, r)), "Sec-Fetch-Site", "cross-site")...)
		c.checkAs(ts, 205, "POST", "/api/logout/", "/api/cookie/logout/", "", "", bearer(access)...)
	})

	t.Run("no rotation", func(t *testing.T) {
		ts := newTestServer(t, map[string]string{"LATCH_ROTATE_REFRESH_TOKENS": "false"})
		c := c.with(t)
		ts.mustUser("alice")
		r := c.check(ts, 200, "POST", "/api/cookie/login/", js, creds)
		c.check(ts, 200, "POST", "/api/cookie/refresh/", "", "", cookieHeader(refreshSetCookie(t, r))...)
		p := ts.mustLogin("alice")
		c.checkSchema(ts.do("POST", "/api/token/refresh/", js, `{"refresh":"`+p.refresh+`"}`), 200, "AccessToken")
	})

	t.Run("throttled", func(t *testing.T) {
		ts := newTestServer(t, map[string]string{"LATCH_THROTTLE_ANON": "1/min", "LATCH_THROTTLE_USER": "1/hour"})
		c := c.with(t)
		ts.mustUser("alice")
		r := c.check(ts, 200, "POST", "/api/token/", js, creds)
		access := r.str(t, "access")
		c.check(ts, 429, "POST", "/api/token/", js, creds)
		c.check(ts, 429, "POST", "/api/signup/", js, `{}`)
		c.check(ts, 200, "GET", "/api/me/", "", "", bearer(access)...)
		c.check(ts, 429, "GET", "/api/me/", "", "", bearer(access)...)
		ts.clock.Advance(time.Minute)
		c.check(ts, 200, "POST", "/api/token/verify/", js, `{"token":"`+access+`"}`)
	})

	t.Run("asymmetric keys", func(t *testing.T) {
		ts := newTestServer(t, map[string]string{"LATCH_SIGNING_KEY": "", "LATCH_ALGORITHM": "ES256"})
		c := c.with(t)
		r := c.check(ts, 200, "GET", "/.well-known/jwks.json", "", "")
		if !strings.Contains(r.body, `"kty":"EC"`) {
			t.Errorf("jwks %s", r.body)
		}
	})

	t.Run("opaque tokens", func(t *testing.T) {
		ts := newTestServer(t, map[string]string{"LATCH_TOKEN_FORMAT": "opaque"})
		c := c.with(t)
		ts.mustUser("alice")
		r := c.check(ts, 200, "POST", "/api/token/", js, creds)
		p := pair{r.str(t, "access"), r.str(t, "refresh")}
		c.check(ts, 200, "GET", "/api/me/", "", "", bearer(p.access)...)
		r = c.check(ts, 200, "POST", "/api/token/refresh/", js, `{"refresh":"`+p.refresh+`"}`)
		c.check(ts, 205, "POST", "/api/logout/", js, `{"refresh":"`+r.str(t, "refresh")+`"}`, bearer(r.str(t, "access"))...)
		c.check(ts, 401, "GET", "/api/me/", "", "", bearer(r.str(t, "access"))...)
	})

	t.Run("accounts", func(t *testing.T) {
		dir := t.TempDir()
		ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dir, "LATCH_EMAIL_VERIFICATION": "optional"})
		c := c.with(t)
		c.check(ts, 201, "POST", "/api/signup/", js, `{"username":"mailer","password":"`+testPassword+`","email":"mailer@example.com"}`)
		key := verifyKey(t, readEML(t, dir, 1)[0])
		c.check(ts, 404, "POST", "/api/signup/verify-email/", js, `{"key":"nope"}`)
		c.check(ts, 400, "POST", "/api/signup/verify-email/", js, `{}`)
		c.check(ts, 200, "GET", "/verify-email/"+key+"/", "", "")
		c.check(ts, 403, "POST", "/verify-email/"+key+"/", form, "", "Sec-Fetch-Site", "cross-site")
		c.check(ts, 200, "POST", "/verify-email/"+key+"/", form, "", "Sec-Fetch-Site", "same-origin")
		c.check(ts, 404, "POST", "/verify-email/"+key+"/", form, "", "Sec-Fetch-Site", "same-origin")
		c.check(ts, 200, "POST", "/api/signup/resend-email/", js, `{"email":"mailer@example.com"}`)
		c.check(ts, 400, "POST", "/api/signup/resend-email/", js, `{"email":"not an address"}`)
		access := c.check(ts, 200, "POST", "/api/token/", js, `{"username":"mailer","password":"`+testPassword+`"}`).str(t, "access")
		c.check(ts, 200, "PATCH", "/api/me/", js, `{"email":"new@example.com"}`, bearer(access)...)
		c.check(ts, 400, "PATCH", "/api/me/", js, `{"username":"bad name!"}`, bearer(access)...)
		c.check(ts, 401, "PATCH", "/api/me/", js, `{"username":"x"}`)
		texts := readEML(t, dir, 2) // the resend to a verified address sent none
		key = verifyKey(t, texts[len(texts)-1])
		c.check(ts, 200, "POST", "/api/signup/verify-email/", js, `{"key":"`+key+`"}`)

		c.check(ts, 200, "POST", "/api/password/reset/", js, `{"email":"new@example.com"}`)
		c.check(ts, 200, "POST", "/api/password/reset/", form, "email=nobody%40example.com")
		c.check(ts, 400, "POST", "/api/password/reset/", js, `{}`)
		var m []string
		for deadline := time.Now().Add(15 * time.Second); m == nil && time.Now().Before(deadline); {
			for _, text := range readEML(t, dir, 3) {
				if m = resetLinkRE.FindStringSubmatch(text); m != nil {
					break
				}
			}
		}
		if m == nil {
			t.Fatal("no reset mail")
		}
		page := "/reset/" + m[1] + "/" + m[2] + "/"
		c.check(ts, 200, "GET", page, "", "")
		c.check(ts, 400, "POST", page, form, "new_password1=a+fine+new+one&new_password2=another", "Sec-Fetch-Site", "same-origin")
		c.check(ts, 403, "POST", page, form, "new_password1=x&new_password2=x", "Sec-Fetch-Site", "cross-site")
		confirm := `{"uid":"` + m[1] + `","token":"` + m[2] + `","new_password1":"a fine new one","new_password2":"a fine new one"}`
		c.check(ts, 400, "POST", "/api/password/reset/confirm/", js, `{"uid":"`+m[1]+`","token":"x","new_password1":"a fine new one","new_password2":"a fine new one"}`)
		c.check(ts, 200, "POST", "/api/password/reset/confirm/", js, confirm)
		c.check(ts, 400, "POST", "/api/password/reset/confirm/", js, confirm)
		c.check(ts, 400, "POST", page, form, "new_password1=a+fine+new+one&new_password2=a+fine+new+one", "Sec-Fetch-Site", "same-origin")
		c.check(ts, 400, "GET", page, "", "") // a spent link: no form

		// The page itself, through a fresh link.
		c.check(ts, 200, "POST", "/api/password/reset/", js, `{"email":"new@example.com"}`)
		var m2 []string
		for deadline := time.Now().Add(15 * time.Second); m2 == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			for _, text := range readEML(t, dir, 4) {
				if x := resetLinkRE.FindStringSubmatch(text); x != nil && x[2] != m[2] {
					m2 = x
				}
			}
		}
		if m2 == nil {
			t.Fatal("no second reset mail")
		}
		c.check(ts, 200, "POST", "/reset/"+m2[1]+"/"+m2[2]+"/", form, "new_password1=set+on+the+page&new_password2=set+on+the+page", "Sec-Fetch-Site", "same-origin")
	})

	// Every documented operation was seen succeeding.
	for tmpl, item := range c.model.Paths.PathItems.FromOldest() {
		for m, op := range item.GetOperations().FromOldest() {
			ok := false
			for code := range op.Responses.Codes.KeysFromOldest() {
				if code < "300" && c.covered[strings.ToUpper(m)+" "+tmpl+" "+code] {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s %s: no success response was validated", strings.ToUpper(m), tmpl)
			}
		}
	}
}

// with is c for a subtest.
func (c *contract) with(t *testing.T) *contract {
	return &contract{t: t, v: c.v, model: c.model, covered: c.covered}
}

// TestDocsListEveryRoute compares the routes a server with every optional
// endpoint on registers with the operations the document lists. The
// routes are read from /metrics (each route's latency histogram exists
// from registration) and each route's methods from its answer to OPTIONS.
func TestDocsListEveryRoute(t *testing.T) {
	ts := newTestServer(t, map[string]string{"LATCH_SLIDING_TOKENS": "on"})
	c := newContract(t, ts)
	m := ts.do("GET", "/metrics", "", "")
	var served []string
	seen := map[string]bool{}
	for _, match := range regexp.MustCompile(`latch_http_request_duration_seconds_count\{route="([^"]+)"\}`).FindAllStringSubmatch(m.body, -1) {
		route := match[1]
		if route == "other" || seen[route] {
			continue
		}
		seen[route] = true
		path := strings.NewReplacer("{id}", "x", "{file}", "docs.js").Replace(route)
		if route == "/api/auth/check/" {
			// Forward auth answers every method alike, OPTIONS and HEAD
			// too: each it answers as forward auth (401 without a
			// token) is served. TRACE is left out: proxies refuse it.
			for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
				if r := ts.do(method, path, "", ""); r.status == http.StatusUnauthorized {
					served = append(served, method+" "+route)
				}
			}
			continue
		}
		r := ts.do("OPTIONS", path, "", "")
		if r.status != 200 || r.header.Get("Allow") == "" {
			t.Fatalf("OPTIONS %s: %d, Allow %q", path, r.status, r.header.Get("Allow"))
		}
		for _, method := range strings.Split(r.header.Get("Allow"), ", ") {
			if method != "HEAD" && method != "OPTIONS" {
				served = append(served, method+" "+route)
			}
		}
	}
	if len(served) < 20 {
		t.Fatalf("found only %d routes in /metrics: %v", len(served), served)
	}
	var documented []string
	for tmpl, item := range c.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().KeysFromOldest() {
			documented = append(documented, strings.ToUpper(method)+" "+tmpl)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("%s is served but not in httpapi/openapi.json", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("%s is in httpapi/openapi.json but not served", d)
		}
	}
}
