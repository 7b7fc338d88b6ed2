package password

import (
	_ "embed"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMinLength is the minimum password length [Validate] applies when
// given minLength <= 0, as Django's MinimumLengthValidator.
const DefaultMinLength = 8

// commonPasswords is Django 3.2's common-passwords list (20,000 passwords
// collected by Royce Williams, lowercased and deduplicated by Django),
// trimmed and sorted in byte order, one per line, each line ending in "\n".
//
//go:embed common.txt
var commonPasswords string

// UserAttributes are what a password must not resemble: Django's
// UserAttributeSimilarityValidator compares the username, then the email.
type UserAttributes struct {
	Username, Email string
}

// Validate checks a new password of user as Django's four default
// validators do (AUTH_PASSWORD_VALIDATORS of a new project) and returns
// their messages, in their order, for the rules it breaks; it returns nil
// when there is none.
//
//   - "The password is too similar to the username." (or "to the email
//     address.", for the first attribute that is) when, ignoring case,
//     Django's UserAttributeSimilarityValidator would say so: a similarity
//     of 0.7 or more to the attribute or a part of it between non-word
//     characters, a part less than a tenth of the password's length (and
//     under 0.35 of it) excepted. An empty attribute is skipped.
//   - "This password is too short. It must contain at least N characters."
//     when the password has fewer than minLength characters (Unicode code
//     points); minLength <= 0 means [DefaultMinLength].
//   - "This password is too common." when the lowercased, trimmed password
//     is in Django's list of 20,000 common passwords.
//   - "This password is entirely numeric." when it has only digits.
func Validate(password string, user UserAttributes, minLength int) []string {
	if minLength <= 0 {
		minLength = DefaultMinLength
	}
	var problems []string
	for _, a := range []struct{ value, name string }{{user.Username, "username"}, {user.Email, "email address"}} {
		if tooSimilar(password, a.value) {
			problems = append(problems, "The password is too similar to the "+a.name+".")
			break // Django's validator stops at the first
		}
	}
	if utf8.RuneCountInString(password) < minLength {
		unit := "characters"
		if minLength == 1 {
			unit = "character"
		}
		problems = append(problems, fmt.Sprintf("This password is too short. It must contain at least %d %s.", minLength, unit))
	}
	if isCommon(strings.TrimSpace(strings.ToLower(password))) {
		problems = append(problems, "This password is too common.")
	}
	if password != "" && strings.IndexFunc(password, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		problems = append(problems, "This password is entirely numeric.")
	}
	return problems
}

// maxSimilarity is Django's UserAttributeSimilarityValidator default, 0.7,
// as a fraction.
const maxSimilarityNum, maxSimilarityDen = 7, 10

func tooSimilar(password, attribute string) bool {
	if password == "" || attribute == "" {
		return false
	}
	pw, user := strings.ToLower(password), strings.ToLower(attribute)
	pwLen := utf8.RuneCountInString(pw)
	// Django splits the value on runs of non-word characters (re \W+) and
	// also compares the whole value.
	isSep := func(r rune) bool {
		return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r))
	}
	parts := append(strings.FieldsFunc(user, isSep), user)
	for _, part := range parts {
		// Django's exceeds_maximum_length_ratio: a part this short
		// against a password this long is not compared.
		if n := utf8.RuneCountInString(part); pwLen >= 10*n && n*2*maxSimilarityDen < maxSimilarityNum*pwLen {
			continue
		}
		if similar(pw, part) {
			return true
		}
	}
	return false
}

// similar reports whether difflib.SequenceMatcher(a=a, b=b).quick_ratio()
// >= 0.7, as Django checks: quick_ratio is 2M/T where M is the size of the
// intersection of the two strings' character multisets and T is the sum of
// their lengths, in code points.
func similar(a, b string) bool {
	counts := make(map[rune]int)
	for _, r := range b {
		counts[r]++
	}
	matches, total := 0, utf8.RuneCountInString(b)
	for _, r := range a {
		total++
		if counts[r] > 0 {
			counts[r]--
			matches++
		}
	}
	return total > 0 && 2*matches*maxSimilarityDen >= maxSimilarityNum*total
}

// isCommon reports whether s is a line of commonPasswords, by binary search
// over the sorted lines; lo and hi always sit at the start of a line.
func isCommon(s string) bool {
	list := commonPasswords
	lo, hi := 0, len(list)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := strings.LastIndexByte(list[lo:mid], '\n') + 1 + lo
		end := start + strings.IndexByte(list[start:hi], '\n')
		if end < start { // no final newline; the embedded file always has one
			end = hi
		}
		switch line := list[start:end]; {
		case s == line:
			return true
		case s < line:
			hi = start
		default:
			lo = end + 1
		}
	}
	return false
}
