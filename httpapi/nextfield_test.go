package httpapi

import (
	"strings"
	"testing"
)

// nextField agrees with a byte-at-a-time split on every position of a
// space or control character in a token-sized string.
func TestNextFieldWordScan(t *testing.T) {
	slow := func(s string) (string, string) {
		i := 0
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		return s[i:j], s[j:]
	}
	base := strings.Repeat("eyJhbGciOiJIUzI1NiJ9.x-_", 6)
	for _, c := range []byte{' ', '\t', '\n', '\r', '\v', '\f', 0x01, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff} {
		for pos := 0; pos <= len(base); pos++ {
			s := "  " + base[:pos] + string([]byte{c}) + base[pos:]
			f, r := nextField(s)
			wf, wr := slow(s)
			if f != wf || r != wr {
				t.Fatalf("nextField(%q) = %q, %q; want %q, %q", s, f, r, wf, wr)
			}
		}
	}
}

var sinkF, sinkR string

func BenchmarkNextField(b *testing.B) {
	h := "Bearer " + strings.Repeat("eyJhbGciOiJIUzI1NiJ9.x-_", 12)
	for b.Loop() {
		f, r := nextField(h)
		sinkF, sinkR = nextField(r)
		_ = f
	}
}
