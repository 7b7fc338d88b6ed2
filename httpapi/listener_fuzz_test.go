package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzJSONServerError feeds arbitrary writes to the rewrite of net/http's
// own error answers (their bytes follow from what a client sent): it must
// never panic, must leave anything but those answers alone, and what it
// makes is a whole HTTP response with a JSON detail and nosniff.
func FuzzJSONServerError(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 400 Bad Request" + serverErrorHeaders + "400 Bad Request",
		"HTTP/1.1 400 Bad Request: missing required Host header" + serverErrorHeaders + "400 Bad Request: missing required Host header",
		"HTTP/1.1 431 Request Header Fields Too Large" + serverErrorHeaders + "431 Request Header Fields Too Large",
		"HTTP/1.1 501 Not Implemented" + serverErrorHeaders + "Unsupported transfer encoding",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 4" + serverErrorHeaders,
		"HTTP/1.1 4xx" + serverErrorHeaders + "4xx",
		"HTTP/1.1 400: \"\\" + serverErrorHeaders + "400: \"\\",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		answer, ok := jsonServerError(p)
		if !ok {
			if answer != nil {
				t.Fatalf("no rewrite, yet an answer %q", answer)
			}
			return
		}
		if !bytes.Contains(p, []byte(serverErrorHeaders)) {
			t.Fatalf("rewrote %q, which is not net/http's error answer", p)
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), nil)
		if err != nil {
			t.Fatalf("answer %q: %v", answer, err)
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Detail string }
		if err := json.Unmarshal(body, &v); err != nil || v.Detail == "" {
			t.Fatalf("answer body %q: %v", body, err)
		}
		if res.StatusCode < 400 || res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("answer %q", answer)
		}
	})
}
