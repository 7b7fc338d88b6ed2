package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeBody feeds arbitrary bodies and content types to the request
// decoder: it must never panic, and it fails only with an apiError that
// renders as a 4xx.
func FuzzDecodeBody(f *testing.F) {
	seeds := []struct{ ctype, body string }{
		{"application/json", `{"username":"alice","password":"x"}`},
		{"application/json", `{"username":`},
		{"application/json", `[1,2]`},
		{"application/json", `{"a":1}{"b":2}`},
		{"application/json; charset=utf-8", `{"username":1e400}`},
		{"application/x-www-form-urlencoded", "username=alice&password=%zz"},
		{"application/x-www-form-urlencoded", "a=1&a=2"},
		{"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--X--\r\n"},
		{"multipart/form-data", "--X\r\n"},
		{"text/plain", "hello"},
		{"", "x"},
		{"application/json", "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s.ctype, s.body)
	}
	f.Fuzz(func(t *testing.T, ctype, body string) {
		r := httptest.NewRequest("POST", "/api/token/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		in, err := decodeBody(r, 1<<10)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status < 400 || ae.status >= 500 {
				t.Fatalf("decode error %v is not a 4xx apiError", err)
			}
			if _, merr := marshal(ae.body); merr != nil {
				t.Fatalf("error body does not render: %v", merr)
			}
			return
		}
		f := &form{in: in}
		f.str("username", false)
		f.str("password", true)
		if err := f.err(); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusBadRequest {
				t.Fatalf("field error %v is not a 400", err)
			}
		}
	})
}

// FuzzAuthorizationHeader: any header yields a principal or a 401 body,
// never a panic or another status.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer x", "Bearer a b", "Basic Zm9v", "bearer x", "Bearer \t x", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer a.b.c.d"} {
		f.Add(s)
	}
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/api/me/", nil)
		r.Header.Set("Authorization", header)
		_, err := srv.authenticate(r)
		if err == nil {
			t.Fatalf("header %q authenticated without a valid token", header)
		}
		ae := srv.authError(err)
		if ae.status != http.StatusUnauthorized {
			t.Fatalf("header %q: status %d, want 401 (%v)", header, ae.status, err)
		}
	})
}
