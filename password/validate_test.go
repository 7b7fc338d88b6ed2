package password

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

const (
	msgSimilar = "The password is too similar to the username."
	msgShort8  = "This password is too short. It must contain at least 8 characters."
	msgCommon  = "This password is too common."
	msgNumeric = "This password is entirely numeric."
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, password, username string
		minLength                int
		want                     []string
	}{
		{"fine", "correct horse battery staple", "alice", 8, nil},
		{"too short", "xk3!mq", "alice", 8, []string{msgShort8}},
		{"default min length", "xk3!mq", "alice", 0, []string{msgShort8}},
		{"custom min length", "xk3!mq9zz", "alice", 12, []string{"This password is too short. It must contain at least 12 characters."}},
		{"singular", "", "alice", 1, []string{"This password is too short. It must contain at least 1 character."}},
		{"length in characters", "ääääääää", "alice", 8, nil},
		{"common", "password", "alice", 8, []string{msgCommon}},
		{"common any case, trimmed", " PassWord ", "alice", 8, []string{msgCommon}},
		{"numeric", "98273645109283", "alice", 8, []string{msgNumeric}},
		{"common and numeric", "12345678", "alice", 8, []string{msgCommon, msgNumeric}},
		{"all four", "1234", "1234", 8, []string{msgSimilar, msgShort8, msgCommon, msgNumeric}},
		{"equal to username", "Alice.Smith!", "alice.smith!", 8, []string{msgSimilar}},
		{"contains username, as Django allows", "xx-alice-2024!", "alice", 8, nil},
		{"username with a suffix, as Django allows", "bobpassword123", "bob", 8, nil},
		{"contained in username", "christophe", "christopher", 8, []string{msgSimilar, msgCommon}},
		{"short username not contained", "totally-secure-algorithm", "al", 8, nil},
		{"anagram of username", "tsrqponm", "mnopqrst", 8, []string{msgSimilar}},
		{"part of username", "Smith42!", "alice.smith", 8, []string{msgSimilar}},
		{"no username", "validpassword!x9", "", 8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(tt.password, UserAttributes{Username: tt.username}, tt.minLength)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate(%q, %q, %d) = %q, want %q", tt.password, tt.username, tt.minLength, got, tt.want)
			}
		})
	}
}

// TestValidateDjango compares with what Django's default validators say,
// recorded in testdata/validate.json by testdata/gen_validate.py.
func TestValidateDjango(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/validate.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Password, Username, Email string
		Messages                  []string
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		want := c.Messages
		if got := Validate(c.Password, UserAttributes{Username: c.Username, Email: c.Email}, 8); !slices.Equal(got, want) {
			t.Errorf("Validate(%q, %q, %q) = %q, want %q (Django: %q)", c.Password, c.Username, c.Email, got, want, c.Messages)
		}
	}
}

func TestCommonList(t *testing.T) {
	t.Parallel()
	if !strings.HasSuffix(commonPasswords, "\n") {
		t.Fatal("common.txt does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(commonPasswords, "\n"), "\n")
	if len(lines) < 19000 {
		t.Errorf("common.txt has %d lines, want Django's ~20000", len(lines))
	}
	for i, line := range lines {
		if line == "" || line != strings.TrimSpace(line) || line != strings.ToLower(line) {
			t.Errorf("line %d %q is not a trimmed lowercase password", i+1, line)
		}
		if i > 0 && lines[i-1] >= line {
			t.Errorf("line %d %q is not after %q: common.txt must be sorted (LC_ALL=C sort -u)", i+1, line, lines[i-1])
		}
		if !isCommon(line) {
			t.Errorf("isCommon(%q) = false for line %d", line, i+1)
		}
		for _, miss := range []string{line + "\x00", line[:len(line)-1] + "\x00"} {
			if isCommon(miss) {
				t.Errorf("isCommon(%q) = true", miss)
			}
		}
	}
	for _, s := range []string{"", "\n", "\x00", "\xff\xff", "zzzzzzzzzzzzzzzzzzzzzzzzz"} {
		if isCommon(s) {
			t.Errorf("isCommon(%q) = true", s)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	for b.Loop() {
		Validate("correct horse battery staple", UserAttributes{Username: "alice.smith", Email: "alice@example.com"}, 8)
	}
}
