package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTruncate: whatever a client sends as its User-Agent, what is stored
// is valid UTF-8 without NUL and at most 512 bytes; storable text that
// fits is kept as it is.
func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "curl/8.5", "\xff\xfe", "a\x00b", strings.Repeat("é", 300), "x" + strings.Repeat("日", 200), "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := truncate(in, 512)
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || len(got) > 512 {
			t.Fatalf("truncate(%q) = %q: not storable", in, got)
		}
		if utf8.ValidString(in) && strings.IndexByte(in, 0) < 0 && len(in) <= 512 && got != in {
			t.Fatalf("truncate(%q) = %q, want it unchanged", in, got)
		}
	})
}

// FuzzUsernameLimits: a username that passes is one a store can hold.
func FuzzUsernameLimits(f *testing.F) {
	for _, s := range []string{"alice", "ａｌｉｃｅ", strings.Repeat("a", 151), "a\x00", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name := NormalizeUsername(in)
		if usernameLimits(name) != nil {
			return
		}
		if utf8.RuneCountInString(name) > maxUsername || strings.IndexByte(name, 0) >= 0 || len(accountKey(name)) != 64 {
			t.Fatalf("username %q passed the limits", name)
		}
	})
}
