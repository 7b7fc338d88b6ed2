package main

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/latch-auth/latch/internal/testenv"
)

// The tables as Django 3.2 and django-allauth's migrations create them
// (scripts/testenv.sh installs Django but not allauth, so they are made
// here by hand; TestImportDjango covers real Django's auth_user).
var allauthSchema = map[string]string{
	"sqlite": `
CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL);
CREATE TABLE "account_emailaddress" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "verified" bool NOT NULL, "primary" bool NOT NULL, "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "email" varchar(254) NOT NULL UNIQUE);`,
	"pgx": `
CREATE TABLE "auth_user" ("id" serial NOT NULL PRIMARY KEY, "password" varchar(128) NOT NULL, "last_login" timestamp with time zone NULL, "is_superuser" boolean NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" boolean NOT NULL, "is_active" boolean NOT NULL, "date_joined" timestamp with time zone NOT NULL, "first_name" varchar(150) NOT NULL);
CREATE TABLE "account_emailaddress" ("id" serial NOT NULL PRIMARY KEY, "verified" boolean NOT NULL, "primary" boolean NOT NULL, "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "email" varchar(254) NOT NULL UNIQUE);`,
}

// djangoPBKDF2 is Django's pbkdf2_sha256 hash of pw (few iterations: a test).
func djangoPBKDF2(t *testing.T, pw, salt string) string {
	t.Helper()
	key, err := pbkdf2.Key(sha256.New, pw, []byte(salt), 1000, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	return "pbkdf2_sha256$1000$" + salt + "$" + base64.StdEncoding.EncodeToString(key)
}

// TestImportDjangoAllauth: an address django-allauth recorded as the
// user's primary one, verified, is imported verified, so that under
// mandatory verification its user logs in at once; the others must verify
// first, and import-django says how many are held back.
func TestImportDjangoAllauth(t *testing.T) {
	type address struct {
		email             string
		verified, primary bool
	}
	tests := []struct {
		username, email string
		addresses       []address
		verified        bool
	}{
		{"ann", "ann@example.com", []address{{"ann@example.com", true, true}}, true},
		{"cat", "Cat@Example.com", []address{{"cat@example.com", true, true}}, true}, // letter case aside
		{"ben", "ben@example.com", []address{{"ben@example.com", false, true}}, false},
		{"dan", "dan@example.com", []address{{"dan@example.com", true, false}, {"dan@old.example", true, true}}, false}, // the verified primary is another
		{"fay", "fay@example.com", nil, false},
		{"eve", "", nil, false},
	}
	// makeDB creates the tables and rows through driver and dsn.
	makeDB := func(t *testing.T, driver, dsn string) {
		t.Helper()
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(allauthSchema[driver]); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			var id int64
			if err := db.QueryRow(`INSERT INTO auth_user (password, is_superuser, username, last_name, email, is_staff, is_active, date_joined, first_name) VALUES ($1, false, $2, '', $3, false, true, '2021-02-03 04:05:06', '') RETURNING id`,
				djangoPBKDF2(t, testPassword, "salt"+tt.username), tt.username, tt.email).Scan(&id); err != nil {
				t.Fatalf("user %s: %v", tt.username, err)
			}
			for _, a := range tt.addresses {
				if _, err := db.Exec(`INSERT INTO account_emailaddress (verified, "primary", user_id, email) VALUES ($1, $2, $3, $4)`, a.verified, a.primary, id, a.email); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// check imports src under mandatory verification and logs everyone in.
	check := func(t *testing.T, src string, store map[string]string) {
		t.Helper()
		vars := map[string]string{"LATCH_DATA_DIR": t.TempDir(), "LATCH_EMAIL_VERIFICATION": "mandatory"}
		maps.Copy(vars, store)
		code, out, errOut := djangoRun(t, vars, "import-django", src)
		if code != 0 {
			t.Fatalf("import-django: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		if want := "imported 6, skipped 0 (existing), unusable passwords 0\n2 with the address django-allauth had verified as primary (email_verified)"; strings.TrimSpace(out) != want {
			t.Errorf("import-django printed %q, want %q", out, want)
		}
		for _, want := range []string{"mandatory: 3 imported users have an address not known to be verified", "mandatory: 1 imported users have no address"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("import-django warned %q; want %q in it", errOut, want)
			}
		}
		vars["LATCH_SIGNING_KEY"] = ""
		ts := newTestServer(t, vars)
		for _, tt := range tests {
			t.Run(tt.username, func(t *testing.T) {
				u, err := ts.app.Store().UserByUsername(t.Context(), tt.username)
				if err != nil {
					t.Fatal(err)
				}
				if u.EmailVerified != tt.verified {
					t.Errorf("email_verified %v, want %v", u.EmailVerified, tt.verified)
				}
				r := ts.postJSON("/api/token/", map[string]any{"username": tt.username, "password": testPassword})
				if tt.verified {
					wantResponse(t, r, http.StatusOK, "")
				} else {
					wantResponse(t, r, http.StatusBadRequest, `{"non_field_errors":["E-mail is not verified."]}`)
				}
			})
		}
	}

	path := filepath.Join(t.TempDir(), "db.sqlite3")
	t.Run("sqlite", func(t *testing.T) {
		makeDB(t, "sqlite", path)
		check(t, "sqlite://"+path, nil)
	})
	t.Run("postgres", func(t *testing.T) {
		base := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
		djangoURL := djangoSearchPath(t, base, djangoTestSchema(t, base))
		makeDB(t, "pgx", djangoURL)
		check(t, djangoURL, map[string]string{"LATCH_DATABASE_URL": djangoSearchPath(t, base, djangoTestSchema(t, base))})
	})

	// Without allauth's table nobody is verified, and the summary is as before.
	t.Run("no allauth", func(t *testing.T) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`DROP TABLE account_emailaddress`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		dataDir := t.TempDir()
		importDjangoOK(t, map[string]string{"LATCH_DATA_DIR": dataDir}, "sqlite://"+path, "imported 6, skipped 0 (existing), unusable passwords 0")
		ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dataDir, "LATCH_SIGNING_KEY": ""})
		u, err := ts.app.Store().UserByUsername(t.Context(), "ann")
		if err != nil || u.EmailVerified {
			t.Errorf("ann without allauth: %+v, %v; want her unverified", u, err)
		}
	})
}
