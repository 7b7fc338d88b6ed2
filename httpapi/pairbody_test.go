package httpapi

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

func TestWritePairBodyAsWriteJSON(t *testing.T) {
	type pair struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh,omitempty"`
	}
	type loginPair struct { // SimpleJWT's login order
		Refresh string `json:"refresh,omitempty"`
		Access  string `json:"access"`
	}
	for _, p := range []pair{
		{"a.b.c", "d.e.f"},
		{"a.b.c", ""},
		{"", ""},
		{"lt_ABC234", "lt_XYZ"},
		{`quote" back\ <&> é ` + "\x01", "\u2028"},
	} {
		for order, v := range map[pairOrder]any{accessFirst: p, refreshFirst: loginPair{p.Refresh, p.Access}} {
			want, got := httptest.NewRecorder(), httptest.NewRecorder()
			writeJSON(want, 200, v)
			writePairBody(got, p.Access, p.Refresh, order)
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) || got.Code != want.Code ||
				got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
				t.Errorf("writePairBody(%q, %q, %v) = %d %q, writeJSON %d %q", p.Access, p.Refresh, order, got.Code, got.Body, want.Code, want.Body)
			}
		}
	}
}
