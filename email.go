package latch

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EmailKey is the form under which emails are unique and looked up: the
// address lower-cased (Unicode), as Django's allauth compares them
// (email__iexact). Every store computes it in Go, never with SQL's lower(),
// which SQLite applies to ASCII letters only.
func EmailKey(email string) string { return strings.ToLower(email) }

// EmailOwner is one user holding an address, as DuplicateEmailsError
// reports it.
type EmailOwner struct {
	UserID   int64
	Username string
	Email    string
}

// DuplicateEmailsError is why a database whose users share addresses
// (differing at most in letter case) cannot be migrated to unique emails,
// or why an import skipped users: each group holds the users of one
// EmailKey, in id order.
type DuplicateEmailsError struct {
	Groups [][]EmailOwner
}

func (e *DuplicateEmailsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d email address(es) belong to more than one user (emails must be unique, letter case ignored):", len(e.Groups))
	for _, g := range e.Groups {
		b.WriteString("\n  " + strconv.Quote(EmailKey(g[0].Email)) + ":")
		for _, o := range g {
			fmt.Fprintf(&b, " user %d (%s, %q)", o.UserID, o.Username, o.Email)
		}
	}
	b.WriteString("\nchange or clear the email of all but one user of each address " +
		"(for example UPDATE users SET email = '' WHERE id = …), then run latch migrate again")
	return b.String()
}

// FindDuplicateEmails returns a *DuplicateEmailsError naming every group
// of owners sharing an EmailKey, or nil when there is none. Empty emails
// never collide.
func FindDuplicateEmails(owners []EmailOwner) error {
	byKey := make(map[string][]EmailOwner)
	for _, o := range owners {
		if o.Email != "" {
			k := EmailKey(o.Email)
			byKey[k] = append(byKey[k], o)
		}
	}
	var groups [][]EmailOwner
	for _, g := range byKey {
		if len(g) > 1 {
			slices.SortFunc(g, func(a, b EmailOwner) int { return cmp.Compare(a.UserID, b.UserID) })
			groups = append(groups, g)
		}
	}
	if groups == nil {
		return nil
	}
	slices.SortFunc(groups, func(a, b []EmailOwner) int { return cmp.Compare(a[0].UserID, b[0].UserID) })
	return &DuplicateEmailsError{Groups: groups}
}
