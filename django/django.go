// Package django reads the users of a Django project (its auth_user
// table, on SQLite or PostgreSQL) into latch's store: latch import-django.
// When the project uses django-allauth, its account_emailaddress table
// says which addresses were verified.
// Django's password hashes are stored as they are; latch verifies them
// (password.Hasher.Verify) and replaces each with argon2id at the user's
// first successful login.
package django

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/password"
)

// djangoUser is one row of Django's auth_user.
type djangoUser struct {
	Username, Email, Password      string
	IsActive, IsStaff, IsSuperuser bool
	LastLogin, DateJoined          time.Time // zero: NULL
	// EmailVerified: allauth's account_emailaddress has Email as the
	// user's primary address, verified.
	EmailVerified bool
}

// role maps Django's flags to latch's role claim: staff and superusers
// manage users in Django's admin, so they get latch's admin role.
func (u *djangoUser) role(admin string) string {
	if u.IsSuperuser || u.IsStaff {
		return admin
	}
	return "user"
}

// djangoUsable reports whether a Django password hash can ever match:
// Django marks unusable passwords with a leading "!" (set_unusable_password).
func djangoUsable(hash string) bool { return hash != "" && !strings.HasPrefix(hash, "!") }

// djangoVerifiable reports whether latch can verify a hash of this scheme,
// the ones password.Hasher.Verify lists. Others (md5, sha1, unsalted
// hashes, crypt, scrypt) are imported too, but cannot log in until the
// password is set again.
func djangoVerifiable(hash string) bool { return password.Verifiable(hash) }

// Stats is what an import did.
type Stats struct {
	Imported, Existing, Duplicates, Unusable, Unverifiable int
	// EmailsTaken counts users imported without their email, because
	// another latch user has that address (letter case ignored).
	EmailsTaken int
	// Verified counts users imported with an address allauth had
	// verified; NoEmail those imported without an address.
	Verified, NoEmail int
	// Allauth is whether the database has allauth's account_emailaddress.
	Allauth bool
}

// Unverified is how many users were imported with an address not known
// to be verified: under mandatory verification they must verify it
// before they can log in.
func (s Stats) Unverified() int { return s.Imported - s.Verified - s.NoEmail }

func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "imported %d, skipped %d (existing), unusable passwords %d", s.Imported, s.Existing, s.Unusable)
	if s.Duplicates > 0 {
		fmt.Fprintf(&b, "\nskipped %d more whose username differs only in letter case from one imported before (latch usernames are case-insensitive)", s.Duplicates)
	}
	if s.EmailsTaken > 0 {
		fmt.Fprintf(&b, "\n%d imported without their email, which another user has (latch emails are unique, letter case ignored): give them one with PATCH /api/admin/users/{id}/", s.EmailsTaken)
	}
	if s.Allauth {
		fmt.Fprintf(&b, "\n%d with the address django-allauth had verified as primary (email_verified)", s.Verified)
	}
	if s.Unverifiable > 0 {
		fmt.Fprintf(&b, "\n%d imported with a hash scheme latch cannot verify (such as md5, sha1, crypt or scrypt): they cannot log in until their password is set again (latch changepassword)", s.Unverifiable)
	}
	return b.String()
}

// Source is an open Django database.
type Source struct {
	db      *sql.DB
	where   string // the database, for messages: a path or the URL without password
	allauth bool   // it has django-allauth's account_emailaddress
}

func (s *Source) Close() error { return s.db.Close() }

// openDjango opens the Django database named by raw, read-only for SQLite,
// and checks that it has an auth_user table. Its errors never hold the
// URL's password.
func Open(ctx context.Context, raw string) (*Source, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		return openDjangoSQLite(ctx, strings.TrimPrefix(raw, "sqlite://"))
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return openDjangoPostgres(ctx, raw)
	}
	// Name the scheme only: the rest may hold a password.
	if scheme, _, ok := strings.Cut(raw, "://"); ok && len(scheme) <= 20 && !strings.ContainsAny(scheme, ":@/") {
		return nil, fmt.Errorf("django database: unsupported URL scheme %q: want sqlite:///path/db.sqlite3 or postgres://…", scheme)
	}
	return nil, errors.New("django database: not a database URL: want sqlite:///path/db.sqlite3 or postgres://…")
}

func openDjangoSQLite(ctx context.Context, path string) (*Source, error) {
	if path == "" {
		return nil, errors.New("django database: sqlite:// needs a path, as sqlite:///srv/app/db.sqlite3")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("django database %s: %w", path, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("django database: %w", err)
	} else if fi.IsDir() {
		return nil, fmt.Errorf("django database %s: is a directory", abs)
	}
	// A SQLite URI: mode=ro opens read-only and never creates the file.
	// Characters that would end the path are escaped.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	db, err := sql.Open("sqlite", "file:"+esc+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("django database %s: %w", abs, err)
	}
	src := &Source{db: db, where: abs}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'auth_user'`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("django database %s: %w", abs, err)
	}
	if n == 0 {
		db.Close()
		return nil, fmt.Errorf("django database %s: no auth_user table (not a Django database, or its migrations never ran)", abs)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'account_emailaddress'`).Scan(&src.allauth); err != nil {
		db.Close()
		return nil, fmt.Errorf("django database %s: %w", abs, err)
	}
	return src, nil
}

func openDjangoPostgres(ctx context.Context, raw string) (*Source, error) {
	where := redactURL(raw)
	cc, err := pgx.ParseConfig(raw)
	if err != nil {
		// pgx's message quotes the URL, redacting passwords only on a
		// best-effort basis: give the reason alone when it is the URL
		// syntax (url.Error's own text repeats the URL too).
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return nil, fmt.Errorf("django database %s: invalid PostgreSQL URL: %v", where, uerr.Err)
		}
		return nil, fmt.Errorf("django database %s: invalid PostgreSQL URL", where)
	}
	db := stdlib.OpenDB(*cc)
	src := &Source{db: db, where: where}
	var found bool
	// to_regclass follows the search_path (settable in the URL:
	// ?search_path=myschema), as Django's own queries do.
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('auth_user') IS NOT NULL`).Scan(&found); err != nil {
		db.Close()
		return nil, fmt.Errorf("django database %s: %w", where, err)
	}
	if !found {
		db.Close()
		return nil, fmt.Errorf("django database %s: no auth_user table in the search_path (not a Django database, its migrations never ran, or it lives in another schema: add ?search_path=SCHEMA)", where)
	}
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('account_emailaddress') IS NOT NULL`).Scan(&src.allauth); err != nil {
		db.Close()
		return nil, fmt.Errorf("django database %s: %w", where, err)
	}
	return src, nil
}

// redactURL returns raw without its password (in the user info or as a
// password query parameter), for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Not for net/url (several hosts, say): drop the user info and the query.
		scheme, rest, ok := strings.Cut(raw, "://")
		if !ok {
			return "(unparsable URL)"
		}
		rest, _, _ = strings.Cut(rest, "?")
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			rest = "xxxxx@" + rest[at+1:]
		}
		return scheme + "://" + rest
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// users calls fn with every user, in id order.
func (s *Source) users(ctx context.Context, fn func(*djangoUser) error) error {
	// allauth keeps the user's addresses apart from auth_user.email, which
	// it keeps equal to the primary one; only that one, verified, counts.
	verified := `false`
	if s.allauth {
		verified = `EXISTS (SELECT 1 FROM account_emailaddress e WHERE e.user_id = u.id AND e.verified AND e."primary" AND lower(e.email) = lower(u.email))`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT u.username, u.email, u.password, u.is_active, u.is_staff, u.is_superuser, u.last_login, u.date_joined, `+verified+` FROM auth_user u ORDER BY u.id`)
	if err != nil {
		return fmt.Errorf("django database %s: read auth_user: %w", s.where, err)
	}
	defer rows.Close()
	for rows.Next() {
		var u djangoUser
		var email sql.NullString
		var lastLogin, joined any
		if err := rows.Scan(&u.Username, &email, &u.Password, &u.IsActive, &u.IsStaff, &u.IsSuperuser, &lastLogin, &joined, &u.EmailVerified); err != nil {
			return fmt.Errorf("django database %s: read auth_user: %w", s.where, err)
		}
		u.Email = email.String
		if u.LastLogin, err = djangoTime(lastLogin); err != nil {
			return fmt.Errorf("django user %q: last_login: %w", u.Username, err)
		}
		if u.DateJoined, err = djangoTime(joined); err != nil {
			return fmt.Errorf("django user %q: date_joined: %w", u.Username, err)
		}
		if err := fn(&u); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("django database %s: read auth_user: %w", s.where, err)
	}
	return nil
}

// djangoTimeLayouts are how Django's SQLite backend writes datetimes: UTC
// without a zone when USE_TZ is on (the default of new projects), local
// time without a zone when it is off (read as UTC here).
var djangoTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// djangoTime converts a datetime column's value: a time.Time (PostgreSQL)
// or text (SQLite); NULL is the zero time.
func djangoTime(v any) (time.Time, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v.UTC(), nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return time.Time{}, fmt.Errorf("unexpected %T", v)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range djangoTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a datetime: %q", s)
}

// maxImportWarnings caps the warnings of each kind about single users.
const maxImportWarnings = 20

// Import creates a latch user for each Django user whose username is not
// taken (in any letter case); Django's staff and superusers get adminRole.
// A user whose email another latch user has is imported without it and
// reported. The email is verified when allauth's account_emailaddress has
// it as the user's primary address, verified. warn reports what an
// operator should know about single users; it is never given a hash.
func Import(ctx context.Context, src *Source, users latch.UserStore, adminRole string, warn func(format string, args ...any)) (Stats, error) {
	stats := Stats{Allauth: src.allauth}
	imported := make(map[string]string) // lower-cased name → name, for case clashes within the import
	err := src.users(ctx, func(du *djangoUser) error {
		u := &latch.User{
			Username:      du.Username,
			Email:         du.Email,
			EmailVerified: du.EmailVerified && du.Email != "",
			PasswordHash:  du.Password,
			Role:          du.role(adminRole),
			IsActive:      du.IsActive,
			LastLogin:     du.LastLogin,
			CreatedAt:     du.DateJoined,
		}
		err := users.CreateUser(ctx, u)
		if errors.Is(err, latch.ErrEmailTaken) {
			u.Email, u.EmailVerified = "", false
			if err = users.CreateUser(ctx, u); err == nil {
				stats.EmailsTaken++
				if stats.EmailsTaken <= maxImportWarnings {
					holder := "another user"
					if h, herr := users.UserByEmail(ctx, du.Email); herr == nil {
						holder = fmt.Sprintf("user %q (id %d)", h.Username, h.ID)
					}
					warn("Django user %q imported without its email %q, which %s has", du.Username, du.Email, holder)
				}
			}
		}
		switch {
		case errors.Is(err, latch.ErrUsernameTaken):
			if first, ok := imported[strings.ToLower(du.Username)]; ok {
				stats.Duplicates++
				if stats.Duplicates <= maxImportWarnings {
					warn("Django user %q not imported: %q, imported before, differs only in letter case", du.Username, first)
				}
			} else {
				stats.Existing++
			}
			return nil
		case err != nil:
			// The store's error names no column value; the hash stays out of it.
			return fmt.Errorf("import Django user %q: %w", du.Username, err)
		}
		stats.Imported++
		imported[strings.ToLower(du.Username)] = du.Username
		switch {
		case u.Email == "":
			stats.NoEmail++
		case u.EmailVerified:
			stats.Verified++
		}
		switch {
		case !djangoUsable(du.Password):
			stats.Unusable++
		case !djangoVerifiable(du.Password):
			stats.Unverifiable++
			if stats.Unverifiable <= maxImportWarnings {
				warn("Django user %q has a password hash scheme latch cannot verify: they cannot log in until their password is set again", du.Username)
			}
		}
		return nil
	})
	return stats, err
}
