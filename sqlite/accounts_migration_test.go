package sqlite

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/storetest"
)

func TestAccountsMigration(t *testing.T) {
	storetest.TestAccountsMigration(t, func(t *testing.T, emails []string) storetest.Legacy {
		l := newLegacy(t, 3)
		l.exec(t, func(db *sql.DB) error {
			for i, e := range emails {
				name := fmt.Sprintf("user%d", i+1)
				if _, err := db.ExecContext(t.Context(),
					`INSERT INTO users (username, username_key, email, password_hash, created_at) VALUES (?, ?, ?, 'h', 0)`, name, name, e); err != nil {
					return err
				}
			}
			return nil
		})
		return l
	})
}

// legacy is the path of a database file an older latch left.
type legacy string

// newLegacy creates a database file at migration version.
func newLegacy(t *testing.T, version int64) legacy {
	l := legacy(filepath.Join(t.TempDir(), "latch.db"))
	l.exec(t, func(db *sql.DB) error {
		fsys, err := fs.Sub(migrations, "migrations")
		if err != nil {
			return err
		}
		p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithGoMigrations(accountsMigration()))
		if err != nil {
			return err
		}
		_, err = p.UpTo(t.Context(), version)
		return err
	})
	return l
}

func (l legacy) exec(t *testing.T, fn func(db *sql.DB) error) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+string(l))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := fn(db); err != nil {
		t.Fatal(err)
	}
}

func (l legacy) Open(t *testing.T) (storetest.Store, error) {
	db, err := Open(t.Context(), string(l))
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}

func (l legacy) ClearEmails(t *testing.T, keep int64) {
	l.exec(t, func(db *sql.DB) error {
		_, err := db.ExecContext(t.Context(), `UPDATE users SET email = '' WHERE id <> ?`, keep)
		return err
	})
}

func TestFamilyMigration(t *testing.T) {
	storetest.TestFamilyMigration(t, func(t *testing.T) storetest.LegacyFamilies {
		l := legacyFamilies{newLegacy(t, 6)}
		l.exec(t, func(db *sql.DB) error {
			_, err := db.ExecContext(t.Context(),
				`INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at) VALUES (1, 'alice', 'alice', '', '', 'h', 0)`)
			return err
		})
		return l
	})
}

// legacyFamilies is a database file at migration 00006.
type legacyFamilies struct{ legacy }

func (l legacyFamilies) Add(t *testing.T, s *latch.Session, tokens []latch.RefreshToken) {
	l.exec(t, func(db *sql.DB) error {
		if _, err := db.ExecContext(t.Context(),
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			s.ID, s.UserID, s.CreatedAt.UnixMicro(), s.LastUsedAt.UnixMicro(), s.ExpiresAt.UnixMicro()); err != nil {
			return err
		}
		for _, r := range tokens {
			var jti, succIssued, succExpires any
			if r.Successor != nil {
				jti, succIssued, succExpires = r.Successor.JTI, r.Successor.IssuedAt.UnixMicro(), r.Successor.ExpiresAt.UnixMicro()
			}
			if _, err := db.ExecContext(t.Context(),
				`INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at, spent_at, successor_jti, successor_issued_at, successor_expires_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				r.Hash, r.SessionID, r.IssuedAt.UnixMicro(), r.ExpiresAt.UnixMicro(), toDB(r.SpentAt), jti, succIssued, succExpires); err != nil {
				return err
			}
		}
		return nil
	})
}
