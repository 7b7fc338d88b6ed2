package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
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
		{"application/json", `{"refresh":"x"}]`},
		{"application/json", `{"a":"b"}} `},
		{"application/json; charset=utf-8", `{"username":1e400}`},
		{"application/x-www-form-urlencoded", "username=alice&password=%zz"},
		{"application/x-www-form-urlencoded", "a=1&a=2"},
		{"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--X--\r\n"},
		{"multipart/form-data", "--X\r\n"},
		{"text/plain", "hello"},
		{"", "x"},
		{"application/json", "\xff\xfe"},
		{"application/json", `{"username":"a\u0000b","password":"\u0000"}`},
		{"application/json", "{\"username\":\"\xe6\x97\"}"},
		{"application/json", "{\"username\":\"\xed\xa0\x80\"}"},
		{"application/json", `{"username":"\ud800"}`},
		{"application/x-www-form-urlencoded", "username=%00&password=%ff%fe"},
		{"application/json", `{"username":"` + strings.Repeat("é", 151) + `"}`},
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
		if ctype == "application/json" && !utf8.ValidString(body) {
			t.Fatalf("JSON body %q is not UTF-8 but was accepted", body)
		}
		f := &form{in: in}
		// What the form hands on is storable text: UTF-8, no NUL, bounded.
		for _, v := range []string{f.strMax("username", false, maxUsername), f.str("password", true)} {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 || utf8.RuneCountInString(v) > 1<<10 {
				t.Fatalf("field value %q is not storable text", v)
			}
		}
		if u := f.in["username"]; u != nil && f.err() == nil {
			if s, _ := u.(string); utf8.RuneCountInString(strings.TrimSpace(s)) > maxUsername {
				t.Fatalf("username of %d characters accepted", utf8.RuneCountInString(s))
			}
		}
		if err := f.err(); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusBadRequest {
				t.Fatalf("field error %v is not a 400", err)
			}
		}
	})
}

// FuzzAuthorizationHeader: any header yields a principal or a 401 body,
// never a panic or another status. A newline separates the values of
// several Authorization headers.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer x", "Bearer a b", "Basic Zm9v", "bearer x", "Bearer \t x", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer a.b.c.d",
		"Bearer x\nBearer y", "\nBearer x"} {
		f.Add(s)
	}
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/api/me/", nil)
		for _, v := range strings.Split(header, "\n") {
			r.Header.Add("Authorization", v)
		}
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

// TestUTF8Error: the text of a body that is not UTF-8 is Python's, as DRF
// shows it (checked against python3's codecs).
func TestUTF8Error(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"b"}`, ""},
		{"\xff\xfe", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"},
		{"{\"a\":\"\xe6\x97\"}", "'utf-8' codec can't decode bytes in position 6-7: invalid continuation byte"},
		{"{\"a\":\"\xc3\"}", "'utf-8' codec can't decode byte 0xc3 in position 6: invalid continuation byte"},
		{"\xed\xa0\x80", "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte"},
		{"{\"a\":\"\xf0\x9f\x98\"}", "'utf-8' codec can't decode bytes in position 6-8: invalid continuation byte"},
		{"\xc0\xaf", "'utf-8' codec can't decode byte 0xc0 in position 0: invalid start byte"},
		{"ok \xe6\x97", "'utf-8' codec can't decode bytes in position 3-4: unexpected end of data"},
	}
	for _, tt := range tests {
		if got := utf8Error([]byte(tt.in)); got != tt.want {
			t.Errorf("utf8Error(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzFlatStrings holds decodeJSON's shortcut for flat string objects to
// encoding/json: whatever it accepts, encoding/json decodes to the same
// fields.
func FuzzFlatStrings(f *testing.F) {
	for _, seed := range []string{
		`{"refresh":"a.b.c"}`, ` { "username" : "alice" , "password":"x y" } `, `{}`, `{"a":"1","a":"2"}`,
		`{"a":"\u0041"}`, `{"a":1}`, `{"a":"b",}`, `{"a":"b"} {}`, "{\"a\":\"\t\"}", `{"a":"é"}`, `{"a" "b"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			return // decodeJSON refuses it before
		}
		got, ok := flatStrings([]byte(body))
		if !ok {
			return
		}
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil || strings.TrimLeft(body[dec.InputOffset():], " \t\r\n") != "" {
			t.Fatalf("flatStrings accepted %q, encoding/json refuses it (%v)", body, err)
		}
		if !reflect.DeepEqual(map[string]any(got), v) {
			t.Fatalf("flatStrings(%q) = %v, encoding/json %v", body, got, v)
		}
	})
}
