package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fields is a decoded request body: JSON object members or form values.
type fields map[string]any

// decodeBody reads a JSON, form-encoded or multipart body as DRF's parsers
// do. An empty body is an empty set of fields (so required fields are
// reported), whatever its content type.
func decodeBody(r *http.Request, limit int64) (fields, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errBodyTooLarge(limit)
		}
		return nil, errBadRequest("Request body could not be read.")
	}
	if len(body) == 0 {
		return fields{}, nil
	}
	ctype := r.Header.Get("Content-Type")
	mediaType, params, _ := mime.ParseMediaType(ctype)
	switch mediaType {
	case "application/json":
		return decodeJSON(body)
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errBadRequest("Malformed form data.")
		}
		return formFields(vals), nil
	case "multipart/form-data":
		mr := multipartReader(body, params["boundary"])
		if mr == nil {
			return nil, errBadRequest("Multipart form parse error - Invalid boundary in multipart: None")
		}
		form, err := mr.ReadForm(limit)
		if err != nil {
			return nil, errBadRequest("Multipart form parse error - " + err.Error())
		}
		defer form.RemoveAll()
		return formFields(form.Value), nil
	}
	return nil, &apiError{status: http.StatusUnsupportedMediaType,
		body: detail(fmt.Sprintf("Unsupported media type %q in request.", ctype))}
}

// formFields reads form values as Django's QueryDict does: the last value
// of each name, bytes that are not UTF-8 replaced (errors="replace").
func formFields(vals map[string][]string) fields {
	f := make(fields, len(vals))
	for k, v := range vals {
		if len(v) > 0 {
			f[strings.ToValidUTF8(k, "\uFFFD")] = strings.ToValidUTF8(v[len(v)-1], "\uFFFD")
		}
	}
	return f
}

func decodeJSON(body []byte) (fields, error) {
	// encoding/json would quietly replace bad bytes; DRF refuses the body.
	if msg := utf8Error(body); msg != "" {
		return nil, errBadRequest("JSON parse error - " + msg)
	}
	if f, ok := flatStrings(body); ok {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errBadRequest("JSON parse error - " + jsonErrorText(body, err))
	}
	// Anything but white space after the value is Python's "Extra data"
	// (Decoder.More would let a stray ] or } through).
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, errBadRequest("JSON parse error - Extra data")
	}
	obj, ok := v.(map[string]any)
	if v == nil {
		// DRF's Serializer.errors words a null body this way rather than
		// "This field may not be null."
		return nil, &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"non_field_errors", []string{"No data provided"}}}}
	}
	if !ok {
		return nil, &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"non_field_errors",
			[]string{fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", pythonType(v))}}}}
	}
	return fields(obj), nil
}

// flatStrings decodes b when it is a JSON object whose names and values
// are all strings without escapes, the shape of nearly every body latch
// reads (a token; a username and a password): what encoding/json makes
// of it, without its reflection, on every refresh. ok is false for
// anything else, which encoding/json then decodes and reports. b is
// valid UTF-8 (decodeJSON checks first).
func flatStrings(b []byte) (f fields, ok bool) {
	i := skipJSONSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, false
	}
	f = make(fields, 2)
	if i = skipJSONSpace(b, i+1); i < len(b) && b[i] == '}' {
		if skipJSONSpace(b, i+1) != len(b) {
			return nil, false
		}
		return f, true
	}
	for {
		name, next, ok := plainJSONString(b, i)
		if !ok {
			return nil, false
		}
		if i = skipJSONSpace(b, next); i == len(b) || b[i] != ':' {
			return nil, false
		}
		value, next, ok := plainJSONString(b, skipJSONSpace(b, i+1))
		if !ok {
			return nil, false
		}
		f[name] = value // a later duplicate wins, as in encoding/json
		if i = skipJSONSpace(b, next); i == len(b) {
			return nil, false
		}
		switch b[i] {
		case '}':
			if skipJSONSpace(b, i+1) != len(b) {
				return nil, false
			}
			return f, true
		case ',':
			i = skipJSONSpace(b, i+1)
		default:
			return nil, false
		}
	}
}

// plainJSONString reads the string at b[i] when it has no escapes and no
// control characters, and returns it and the index past it.
func plainJSONString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonErrorText describes a JSON syntax error without echoing the input.
func jsonErrorText(body []byte, err error) string {
	var syn *json.SyntaxError
	switch {
	case bytes.HasPrefix(body, []byte("\xef\xbb\xbf")):
		return "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)" // Python's json
	case errors.As(err, &syn):
		text := strings.TrimPrefix(syn.Error(), "invalid character ")
		// encoding/json quotes the offending byte, not its character:
		// é would read as Ã.
		if at := int(syn.Offset) - 1; at >= 0 && at < len(body) && body[at] >= utf8.RuneSelf {
			r, _ := utf8.DecodeRune(body[at:])
			if _, rest, ok := strings.Cut(text, "' "); ok {
				text = strconv.QuoteRune(r) + " " + rest
			}
		}
		return fmt.Sprintf("%s (char %d)", text, syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "Expecting value: unexpected end of input"
	}
	return "invalid JSON"
}

// utf8Error describes the first bytes of b that are not UTF-8 as Python's
// codec does, or returns "" when b is valid UTF-8.
func utf8Error(b []byte) string {
	if utf8.Valid(b) {
		return ""
	}
	i := 0
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	// k bytes from i start a sequence that goes wrong after them.
	k, want := 1, 0
	lo, hi := byte(0x80), byte(0xbf)
	switch c := b[i]; {
	case c >= 0xc2 && c <= 0xdf:
		want = 2
	case c >= 0xe0 && c <= 0xef:
		want = 3
		if c == 0xe0 {
			lo = 0xa0
		} else if c == 0xed {
			hi = 0x9f // no surrogates
		}
	case c >= 0xf0 && c <= 0xf4:
		want = 4
		if c == 0xf0 {
			lo = 0x90
		} else if c == 0xf4 {
			hi = 0x8f
		}
	default:
		return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: invalid start byte", b[i], i)
	}
	for k < want && i+k < len(b) && b[i+k] >= lo && b[i+k] <= hi {
		k++
		lo, hi = 0x80, 0xbf
	}
	reason := "invalid continuation byte"
	if i+k == len(b) {
		reason = "unexpected end of data"
	}
	if k == 1 {
		return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", b[i], i, reason)
	}
	return fmt.Sprintf("'utf-8' codec can't decode bytes in position %d-%d: %s", i, i+k-1, reason)
}

// pythonType names a JSON value's type as DRF's message does.
func pythonType(v any) string {
	switch v := v.(type) {
	case []any:
		return "list"
	case string:
		return "str"
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			return "float"
		}
		return "int"
	case bool:
		return "bool"
	case nil:
		return "NoneType"
	}
	return "dict"
}

// DRF's CharField messages.
const (
	msgRequired  = "This field is required."
	msgBlank     = "This field may not be blank."
	msgNull      = "This field may not be null."
	msgNotString = "Not a valid string."
	msgNullChars = "Null characters are not allowed."
)

// maxUsername is Django's max_length of User.username, checked before any
// lookup so that no longer name reaches a store or an in-memory key.
const maxUsername = 150

// maxEmail is Django's max_length of an EmailField.
const maxEmail = 254

// form collects field values and their errors in the order fields are
// read, which is the order DRF reports them in.
type form struct {
	in   fields
	errs fieldErrorsBody
}

// str reads a CharField: numbers are taken as text, surrounding white
// space is trimmed (DRF's trim_whitespace), and blank is an error unless
// optional.
func (f *form) str(name string, optional bool) string {
	return f.strMax(name, optional, 0)
}

// strMax is str with DRF's max_length (in characters; 0: none). As DRF's
// CharField, it reports every validator that fails: max_length, then
// ProhibitNullCharactersValidator (databases refuse NUL in text).
func (f *form) strMax(name string, optional bool, maxLen int) string {
	v, ok := f.in[name]
	if !ok {
		if !optional {
			f.fail(name, msgRequired)
		}
		return ""
	}
	var s string
	switch t := v.(type) {
	case string:
		s = strings.TrimSpace(t)
	case json.Number:
		s = t.String()
	case nil:
		f.fail(name, msgNull)
		return ""
	default:
		f.fail(name, msgNotString)
		return ""
	}
	if s == "" {
		if !optional {
			f.fail(name, msgBlank)
		}
		return s
	}
	var msgs []string
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		msgs = append(msgs, fmt.Sprintf("Ensure this field has no more than %d characters.", maxLen))
	}
	if strings.IndexByte(s, 0) >= 0 {
		msgs = append(msgs, msgNullChars)
	}
	if len(msgs) > 0 {
		f.errs = append(f.errs, fieldError{name, msgs})
		return ""
	}
	return s
}

func (f *form) fail(name, msg string) {
	f.errs = append(f.errs, fieldError{name, []string{msg}})
}

// err returns the collected field errors as a 400, or nil.
func (f *form) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	return &apiError{status: http.StatusBadRequest, body: f.errs}
}
