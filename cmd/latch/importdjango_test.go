package main

// latch import-django against databases made by REAL Django: the system
// Python's Debian python3-django builds a project's auth_user table with
// its own hashers (testdata/django/mkdb.py); latch imports it, and the
// users log in with their original passwords, their hashes upgraded to
// argon2id on the way.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/testenv"

	"github.com/jackc/pgx/v5"
)

const (
	djangoPython  = "/usr/bin/python3" // Debian's, with python3-django; not a pyenv one
	djangoTimeout = 2 * time.Minute
)

// djangoMissing skips the test, or fails it under CI=true, where tests
// must run rather than pass by skipping.
func djangoMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	testenv.Missing(t, "import-django (needs python3-django python3-psycopg2): "+format, args...)
}

// djangoRequire skips (or fails in CI) unless the system Python imports modules.
func djangoRequire(t *testing.T, modules ...string) {
	t.Helper()
	if _, err := os.Stat(djangoPython); err != nil {
		djangoMissing(t, "%s not found: %v", djangoPython, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), djangoTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, djangoPython, "-I", "-B", "-c", "import "+strings.Join(modules, ", "))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		djangoMissing(t, "%s cannot import %s: %v\n%s", djangoPython, strings.Join(modules, ", "), err, out)
	}
}

// djangoPasswords are the test users' original passwords, fresh per test.
type djangoPasswords struct{ admin, alice, staff, inactive string }

func newDjangoPasswords() djangoPasswords {
	return djangoPasswords{
		admin:    "admin-" + rand.Text(),
		alice:    "alice-" + rand.Text(),
		staff:    "staff-" + rand.Text(),
		inactive: "inactive-" + rand.Text(),
	}
}

// of returns the password of a user mkdb.py creates (bob and carol share
// alice's; uma has none).
func (p djangoPasswords) of(username string) string {
	switch username {
	case "admin":
		return p.admin
	case "alice", "bob", "carol":
		return p.alice
	case "sam":
		return p.staff
	case "ivan":
		return p.inactive
	}
	return "never-" + rand.Text()
}

func (p djangoPasswords) secrets() []string { return []string{p.admin, p.alice, p.staff, p.inactive} }

// djangoMade is what mkdb.py reports.
type djangoMade struct {
	Django string `json:"django"`
	Users  map[string]struct {
		Password    string `json:"password"`
		IsActive    bool   `json:"is_active"`
		IsStaff     bool   `json:"is_staff"`
		IsSuperuser bool   `json:"is_superuser"`
	} `json:"users"`
}

// mkdb runs testdata/django/mkdb.py with args; passwords and extra travel
// in the environment.
func djangoMkdb(t *testing.T, pw djangoPasswords, extra []string, args ...string) djangoMade {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "django", "mkdb.py"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), djangoTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, djangoPython, append([]string{"-I", "-B", script}, args...)...)
	cmd.Env = append([]string{
		"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8",
		"LATCH_DJANGO_PW_ADMIN=" + pw.admin,
		"LATCH_DJANGO_PW_ALICE=" + pw.alice,
		"LATCH_DJANGO_PW_STAFF=" + pw.staff,
		"LATCH_DJANGO_PW_INACTIVE=" + pw.inactive,
	}, extra...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mkdb.py %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	var made djangoMade
	if err := json.Unmarshal(stdout.Bytes(), &made); err != nil {
		t.Fatalf("mkdb.py output: %v", err)
	}
	t.Logf("Django %s made users %v", made.Django, djangoNames(made))
	return made
}

func djangoNames(m djangoMade) []string {
	var names []string
	for _, n := range []string{"admin", "alice", "sam", "ivan", "uma", "bob", "carol"} {
		if _, ok := m.Users[n]; ok {
			names = append(names, n)
		}
	}
	return names
}

// runLatch runs a latch command in-process with exactly vars as its environment.
func djangoRun(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(t.Context(), args, Env{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return vars[k] },
	})
	return code, out.String(), errOut.String()
}

// wantNoSecrets fails if out holds a password or a stored hash; it never
// prints them.
func djangoNoSecrets(t *testing.T, what, out string, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("%s holds secret #%d (a password or hash)", what, i)
		}
	}
}

func (m djangoMade) hashes() []string {
	var hs []string
	for _, u := range m.Users {
		hs = append(hs, u.Password)
	}
	return hs
}

// importDjangoOK runs import-django and checks its summary line.
func importDjangoOK(t *testing.T, vars map[string]string, dbURL string, want string, secrets ...string) {
	t.Helper()
	code, out, errOut := djangoRun(t, vars, "import-django", dbURL)
	djangoNoSecrets(t, "import-django output", out+errOut, secrets...)
	if code != 0 {
		t.Fatalf("import-django: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if got := strings.TrimSpace(out); got != want {
		t.Errorf("import-django printed %q, want %q", got, want)
	}
}

// claims decodes a JWT's payload, unverified.
func djangoClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const djangoBodyNoAccount = `{"detail":"No active account found with the given credentials"}`

// checkDjangoUsers checks what import-django stored for made's users, then
// logs them in through HTTP with their original Django passwords.
func checkDjangoUsers(t *testing.T, ts *testServer, made djangoMade, pw djangoPasswords) {
	t.Helper()
	ctx := t.Context()
	store := ts.app.Store()

	// Stored as imported, before any login.
	wantRoles := map[string]string{"admin": "admin", "alice": "user", "sam": "admin", "ivan": "user", "uma": "user", "bob": "user", "carol": "user"}
	for _, name := range djangoNames(made) {
		u, err := store.UserByUsername(ctx, name)
		if err != nil {
			t.Fatalf("user %s after import: %v", name, err)
		}
		d := made.Users[name]
		if u.PasswordHash != d.Password {
			t.Errorf("%s: stored hash is not Django's hash as is", name) // never print hashes
		}
		if u.Username != name || u.Email != name+"@example.com" || u.IsActive != d.IsActive || u.Role != wantRoles[name] {
			t.Errorf("%s: got username %q email %q active %v role %q, want %q %q %v %q",
				name, u.Username, u.Email, u.IsActive, u.Role, name, name+"@example.com", d.IsActive, wantRoles[name])
		}
	}
	admin, err := store.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2021, 2, 3, 4, 5, 6, 123456000, time.UTC); !admin.LastLogin.Equal(want) {
		t.Errorf("admin last_login = %v, want %v", admin.LastLogin, want)
	}
	alice, err := store.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC); !alice.CreatedAt.Equal(want) || !alice.LastLogin.IsZero() {
		t.Errorf("alice created %v, last login %v; want created %v, never logged in", alice.CreatedAt, alice.LastLogin, want)
	}

	login := func(name, password string) response {
		t.Helper()
		return ts.postJSON("/api/token/", map[string]any{"username": name, "password": password})
	}

	// Refused: wrong password, inactive user, unusable password; all
	// with SimpleJWT's one body.
	wantResponse(t, login("alice", pw.alice+"x"), http.StatusUnauthorized, djangoBodyNoAccount)
	wantResponse(t, login("ivan", pw.inactive), http.StatusUnauthorized, djangoBodyNoAccount)
	wantResponse(t, login("uma", pw.of("uma")), http.StatusUnauthorized, djangoBodyNoAccount)
	wantResponse(t, login("uma", made.Users["uma"].Password), http.StatusUnauthorized, djangoBodyNoAccount)
	if u, err := store.UserByUsername(ctx, "alice"); err != nil || u.PasswordHash != made.Users["alice"].Password {
		t.Errorf("a failed login changed alice's hash (err %v)", err)
	}

	// Accepted with the original Django password, hash upgraded to
	// argon2id, role claim from Django's flags.
	for _, name := range []string{"alice", "admin", "sam", "bob", "carol"} {
		if _, ok := made.Users[name]; !ok {
			t.Logf("%s: not made (the Django hasher's library is missing)", name)
			continue
		}
		r := login(name, pw.of(name))
		if r.status != http.StatusOK {
			t.Fatalf("%s: first login with the Django password: %d %s", name, r.status, r.body)
		}
		c := djangoClaims(t, r.str(t, "access"))
		if c["role"] != wantRoles[name] || c["username"] != name {
			t.Errorf("%s: access token has role %v username %v, want %q %q", name, c["role"], c["username"], wantRoles[name], name)
		}
		u, err := store.UserByUsername(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			scheme, _, _ := strings.Cut(u.PasswordHash, "$")
			t.Errorf("%s: hash after login has scheme %q, want $argon2id$", name, scheme)
		}
		if u.LastLogin.IsZero() || u.LastLogin.Year() == 2021 {
			t.Errorf("%s: last login %v not updated by the login", name, u.LastLogin)
		}
		if r := login(name, pw.of(name)); r.status != http.StatusOK {
			t.Errorf("%s: second login (upgraded hash): %d %s", name, r.status, r.body)
		}
		wantResponse(t, login(name, pw.of(name)+"x"), http.StatusUnauthorized, djangoBodyNoAccount)
	}
	// Upgrading one user touched no other.
	if u, err := store.UserByUsername(ctx, "ivan"); err != nil || u.PasswordHash != made.Users["ivan"].Password {
		t.Errorf("ivan's hash changed (err %v)", err)
	}
}

func TestImportDjango(t *testing.T) {
	djangoRequire(t, "django")
	pw := newDjangoPasswords()
	dbPath := filepath.Join(t.TempDir(), "django project", "db.sqlite3") // a space, as real paths have
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		t.Fatal(err)
	}
	made := djangoMkdb(t, pw, nil, "sqlite", dbPath)
	secrets := append(pw.secrets(), made.hashes()...)
	n := len(made.Users)
	dbURL := "sqlite://" + dbPath

	t.Run("sqlite", func(t *testing.T) {
		dataDir := t.TempDir()
		vars := map[string]string{"LATCH_DATA_DIR": dataDir}
		before := djangoFileSum(t, dbPath)
		importDjangoOK(t, vars, dbURL, fmt.Sprintf("imported %d, skipped 0 (existing), unusable passwords 1", n), secrets...)
		if djangoFileSum(t, dbPath) != before {
			t.Errorf("the import changed the Django database")
		}
		if m, _ := filepath.Glob(dbPath + "-*"); len(m) > 0 {
			t.Errorf("the import left files next to the Django database: %v", m)
		}
		ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dataDir, "LATCH_SIGNING_KEY": ""})
		checkDjangoUsers(t, ts, made, pw)

		// Again, with the server running: everyone is skipped, and
		// nobody's upgraded hash goes back to the Django one.
		importDjangoOK(t, vars, dbURL, fmt.Sprintf("imported 0, skipped %d (existing), unusable passwords 0", n), secrets...)
		u, err := ts.app.Store().UserByUsername(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("a second import replaced alice's upgraded hash")
		}
		if r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": pw.alice}); r.status != http.StatusOK {
			t.Errorf("alice after the second import: %d %s", r.status, r.body)
		}
	})

	t.Run("existing usernames are skipped", func(t *testing.T) {
		dataDir := t.TempDir()
		vars := map[string]string{"LATCH_DATA_DIR": dataDir}
		// ALICE exists in latch already, with a password of its own.
		own := "latch-" + rand.Text()
		vars["LATCH_PASSWORD"] = own
		if code, out, errOut := djangoRun(t, vars, "createuser", "ALICE"); code != 0 {
			t.Fatalf("createuser: %d %s %s", code, out, errOut)
		}
		delete(vars, "LATCH_PASSWORD")
		importDjangoOK(t, vars, dbURL, fmt.Sprintf("imported %d, skipped 1 (existing), unusable passwords 1", n-1), secrets...)

		ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dataDir, "LATCH_SIGNING_KEY": ""})
		u, err := ts.app.Store().UserByUsername(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if u.Username != "ALICE" || u.Email != "" || u.PasswordHash == made.Users["alice"].Password {
			t.Errorf("existing ALICE was overwritten: username %q email %q", u.Username, u.Email)
		}
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": pw.alice}), http.StatusUnauthorized, djangoBodyNoAccount)
		if r := ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": own}); r.status != http.StatusOK {
			t.Errorf("ALICE with her latch password: %d %s", r.status, r.body)
		}
		if r := ts.postJSON("/api/token/", map[string]any{"username": "sam", "password": pw.staff}); r.status != http.StatusOK {
			t.Errorf("sam: %d %s", r.status, r.body)
		}
	})

	t.Run("taken emails are reported", func(t *testing.T) {
		dataDir := t.TempDir()
		vars := map[string]string{"LATCH_DATA_DIR": dataDir, "LATCH_PASSWORD": "latch-" + rand.Text()}
		// zed has alice's address already, in other letters.
		if code, out, errOut := djangoRun(t, vars, "createuser", "zed", "--email", "ALICE@example.com"); code != 0 {
			t.Fatalf("createuser: %d %s %s", code, out, errOut)
		}
		delete(vars, "LATCH_PASSWORD")
		code, out, errOut := djangoRun(t, vars, "import-django", dbURL)
		djangoNoSecrets(t, "import-django output", out+errOut, secrets...)
		if code != 0 {
			t.Fatalf("import-django: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		if want := fmt.Sprintf("imported %d, skipped 0 (existing), unusable passwords 1\n1 imported without their email", n); !strings.HasPrefix(out, want) {
			t.Errorf("import-django printed %q, want it to start with %q", out, want)
		}
		if want := `Django user "alice" imported without its email "alice@example.com", which user "zed" (id 1) has`; !strings.Contains(errOut, want) {
			t.Errorf("import-django warned %q, want %q", errOut, want)
		}
		ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dataDir, "LATCH_SIGNING_KEY": ""})
		u, err := ts.app.Store().UserByUsername(t.Context(), "alice")
		if err != nil || u.Email != "" {
			t.Fatalf("alice after the import: %+v, %v; want her without an email", u, err)
		}
		wantResponse(t, ts.postJSON("/api/token/", map[string]any{"username": "alice", "password": pw.alice}), http.StatusOK, "")
	})

	t.Run("postgres", func(t *testing.T) {
		base := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
		djangoRequire(t, "django", "psycopg2")
		djangoSchema, latchSchema := djangoTestSchema(t, base), djangoTestSchema(t, base)
		made := djangoMkdb(t, pw, []string{"LATCH_DJANGO_PG_URL=" + base, "LATCH_DJANGO_PG_SCHEMA=" + djangoSchema}, "postgres")
		secrets := append(pw.secrets(), made.hashes()...)
		n := len(made.Users)

		dataDir := t.TempDir()
		latchURL := djangoSearchPath(t, base, latchSchema)
		vars := map[string]string{"LATCH_DATA_DIR": dataDir, "LATCH_DATABASE_URL": latchURL}
		djangoURL := djangoSearchPath(t, base, djangoSchema)
		importDjangoOK(t, vars, djangoURL, fmt.Sprintf("imported %d, skipped 0 (existing), unusable passwords 1", n), secrets...)

		// Outside its schema there is no auth_user: a clear error.
		code, _, errOut := djangoRun(t, vars, "import-django", base)
		if code != 1 || !strings.Contains(errOut, "no auth_user table") {
			t.Errorf("import from the public schema: exit %d, stderr %q; want 1 and \"no auth_user table\"", code, errOut)
		}

		ts := newTestServer(t, map[string]string{"LATCH_DATA_DIR": dataDir, "LATCH_SIGNING_KEY": "", "LATCH_DATABASE_URL": latchURL})
		checkDjangoUsers(t, ts, made, pw)
		importDjangoOK(t, vars, djangoURL, fmt.Sprintf("imported 0, skipped %d (existing), unusable passwords 0", n), secrets...)
	})
}

// djangoFileSum is the SHA-256 of a file.
func djangoFileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// djangoTestSchema creates a PostgreSQL schema of the test's own, dropped
// with everything in it when the test ends.
func djangoTestSchema(t *testing.T, base string) string {
	t.Helper()
	name := "t_" + strings.ToLower(rand.Text())
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

func djangoSearchPath(t *testing.T, base, schema string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("LATCH_TEST_POSTGRES_URL is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Errors need no Django: bad URLs, missing files, foreign databases. None
// prints a password.
func TestImportDjangoErrors(t *testing.T) {
	dir := t.TempDir()
	notDjango := filepath.Join(dir, "other.sqlite3")
	db, err := sql.Open("sqlite", notDjango)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	const secret = "s3cretPW"

	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no argument", nil, "want exactly one DJANGO_DATABASE_URL argument"},
		{"two arguments", []string{"sqlite:///a", "sqlite:///b"}, "want exactly one DJANGO_DATABASE_URL argument"},
		{"unsupported scheme", []string{"mysql://root:" + secret + "@localhost/app"}, `unsupported URL scheme "mysql"`},
		{"not a URL", []string{secret}, "not a database URL"},
		{"not a URL with colon", []string{secret + ":x/y"}, "not a database URL"},
		{"sqlite without path", []string{"sqlite://"}, "needs a path"},
		{"missing file", []string{"sqlite://" + filepath.Join(dir, "missing.sqlite3")}, "no such file"},
		{"directory", []string{"sqlite://" + dir}, "is a directory"},
		{"not a Django database", []string{"sqlite://" + notDjango}, "no auth_user table"},
		{"postgres refused", []string{"postgres://django:" + secret + "@127.0.0.1:1/app?sslmode=disable&connect_timeout=5"}, "postgres://django:xxxxx@127.0.0.1:1/app"},
		{"postgres password parameter", []string{"postgresql://127.0.0.1:1/app?sslmode=disable&connect_timeout=5&password=" + secret}, "password=xxxxx"},
		{"postgres bad port", []string{"postgres://django:" + secret + "@127.0.0.1:port/app"}, "postgres://xxxxx@127.0.0.1:port/app: invalid PostgreSQL URL"},
		{"postgres several hosts", []string{"postgres://django:" + secret + "@127.0.0.1:1,127.0.0.1:2/app?sslmode=disable&connect_timeout=5"}, "postgres://django:xxxxx@127.0.0.1:1,127.0.0.1:2/app?"},
		{"postgres bad option", []string{"postgres://django:" + secret + "@127.0.0.1/app?sslmode=sometimes"}, "invalid PostgreSQL URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			code, out, errOut := djangoRun(t, map[string]string{"LATCH_DATA_DIR": dataDir}, append([]string{"import-django"}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tc.want)
			}
			if strings.Contains(out+errOut, secret) {
				t.Errorf("the output holds the password: %q", out+errOut)
			}
			// A failed import leaves latch's database alone (not even created).
			if _, err := os.Stat(filepath.Join(dataDir, "latch.db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("latch.db exists after a failed import (stat: %v)", err)
			}
		})
	}
}
