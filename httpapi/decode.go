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
	"strings"
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

func formFields(vals map[string][]string) fields {
	f := make(fields, len(vals))
	for k, v := range vals {
		if len(v) > 0 {
			f[k] = v[len(v)-1] // Django's QueryDict.get: the last value
		}
	}
	return f
}

func decodeJSON(body []byte) (fields, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errBadRequest("JSON parse error - " + jsonErrorText(err))
	}
	if dec.More() {
		return nil, errBadRequest("JSON parse error - Extra data")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"non_field_errors",
			[]string{fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", pythonType(v))}}}}
	}
	return fields(obj), nil
}

// jsonErrorText describes a JSON syntax error without echoing the input.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s (char %d)", strings.TrimPrefix(syn.Error(), "invalid character "), syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "Expecting value: unexpected end of input"
	}
	return "invalid JSON"
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
)

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
	if s == "" && !optional {
		f.fail(name, msgBlank)
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
