package token

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
)

// FuzzMembers checks members against encoding/json, which it stands in
// for: on every valid JSON value, the same members (names unescaped, a
// later duplicate winning, values byte for byte) or the same refusal of a
// value that is not an object.
func FuzzMembers(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { } `, `[]`, `null`, `1`, `"x"`, `true`,
		`{"token_type":"access","exp":1700000300,"iat":1700000000,"jti":"a","user_id":1}`,
		`{"a":1,"a":2}`, `{"a\"b":"c\\d","\u00e9":"\ud83d\ude00"}`,
		"{\"a\":\"\xff\",\"\xfe\":1}",
		`{"x":{"y":[1,2.5e3,"\u00e9",{"z":"}"}]},"n":null,"t":true,"f":false,"neg":-0.5e-3}`,
		" {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\" : { } } ",
		`{"":""}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // members only ever sees what encoding/json checked
		}
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(b, &want)
		got, ok := members(b)
		isObject := bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
		switch {
		case !isObject:
			if ok {
				t.Fatalf("members(%q) accepted a value that is not an object", b)
			}
			return
		case wantErr != nil:
			t.Fatalf("json.Unmarshal(%q): %v", b, wantErr)
		case !ok:
			t.Fatalf("members(%q) refused an object", b)
		}
		if !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Fatalf("members(%q) = %q, want %q", b, got, want)
		}
	})
}

// FuzzStringValue checks stringValue against json.Unmarshal into a string.
func FuzzStringValue(f *testing.F) {
	for _, seed := range []string{`"a"`, `""`, `null`, `1`, `"a\"b\\c\u00e9"`, "\"\xff\"", `"\ud800"`, `{}`, `[]`, `true`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var want string
		wantErr := json.Unmarshal(b, &want)
		got, ok := stringValue(bytes.TrimSpace(b))
		if ok != (wantErr == nil) || got != want {
			t.Fatalf("stringValue(%q) = %q, %v; json.Unmarshal: %q, %v", b, got, ok, want, wantErr)
		}
	})
}
