package token

import (
	"encoding/json"
	"unicode/utf8"
)

// members splits b, a JSON value that encoding/json has already checked,
// into the members of the object it is, as json.Unmarshal into a
// map[string]json.RawMessage would (a later duplicate name wins), without
// its reflection: parsing a token's payload is on every refresh and every
// first sight of an access token. ok is false when b is not an object.
// The values share b's memory.
func members(b []byte) (m map[string]json.RawMessage, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	m = make(map[string]json.RawMessage, 10)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, true
	}
	for i < len(b) {
		end := stringEnd(b, i)
		name := unquote(b[i:end])
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // past ':'
		vend := valueEnd(b, i)
		m[name] = b[i:vend]
		i = skipSpace(b, vend)
		if i >= len(b) || b[i] == '}' {
			break
		}
		i = skipSpace(b, i+1) // past ','
	}
	return m, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// unquoteString decodes a JSON string literal as encoding/json does; ok
// is false when s is not one. Plain text, the usual case, is one copy.
func unquoteString(s []byte) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	body := s[1 : len(s)-1]
	plain := utf8.Valid(body)
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(body), true
	}
	var v string
	if json.Unmarshal(s, &v) != nil {
		return "", false
	}
	return v, true
}

// unquote is unquoteString for a name members found: always a string.
// The names latch writes are constants, not copies.
func unquote(s []byte) string {
	switch string(s) {
	case `"token_type"`:
		return "token_type"
	case `"exp"`:
		return "exp"
	case `"iat"`:
		return "iat"
	case `"jti"`:
		return "jti"
	case `"user_id"`:
		return "user_id"
	case `"sid"`:
		return "sid"
	case `"ver"`:
		return "ver"
	}
	v, _ := unquoteString(s)
	return v
}

// stringValue decodes a member's value as json.Unmarshal into a string
// does: null leaves it empty, anything but a string is an error (ok false).
func stringValue(r []byte) (v string, ok bool) {
	if string(r) == "null" {
		return "", true
	}
	return unquoteString(r)
}
