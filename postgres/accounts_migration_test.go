package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/testenv"
	"github.com/latch-auth/latch/storetest"
)

func TestAccountsMigration(t *testing.T) {
	url := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
	storetest.TestAccountsMigration(t, func(t *testing.T, emails []string) storetest.Legacy {
		l := newLegacy(t, url, 3)
		l.exec(t, func(db *sql.DB) error {
			for i, e := range emails {
				name := fmt.Sprintf("user%d", i+1)
				if _, err := db.ExecContext(t.Context(),
					`INSERT INTO users (id, username, username_key, email, password_hash, created_at) VALUES ($1, $2, $2, $3, 'h', now())`, i+1, name, e); err != nil {
					return err
				}
			}
			return nil
		})
		return l
	})
}

// legacy is a schema an older latch left.
type legacy struct{ url, schema string }

// newLegacy creates a schema at migration version, dropped when t ends.
func newLegacy(t *testing.T, url string, version int64) legacy {
	l := legacy{url: url, schema: "t_" + strings.ToLower(rand.Text())}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{l.schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	l.exec(t, func(db *sql.DB) error {
		if _, err := db.ExecContext(t.Context(), `CREATE SCHEMA `+pgx.Identifier{l.schema}.Sanitize()); err != nil {
			return err
		}
		fsys, err := fs.Sub(migrations, "migrations")
		if err != nil {
			return err
		}
		p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithGoMigrations(accountsMigration()))
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
	cfg, err := pgxpool.ParseConfig(l.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{l.schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := fn(db); err != nil {
		t.Fatal(err)
	}
}

func (l legacy) Open(t *testing.T) (storetest.Store, error) {
	db, err := OpenSchema(t.Context(), l.url, l.schema)
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}

func (l legacy) ClearEmails(t *testing.T, keep int64) {
	l.exec(t, func(db *sql.DB) error {
		_, err := db.ExecContext(t.Context(), `UPDATE users SET email = '' WHERE id <> $1`, keep)
		return err
	})
}

func TestFamilyMigration(t *testing.T) {
	url := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
	storetest.TestFamilyMigration(t, func(t *testing.T) storetest.LegacyFamilies {
		l := legacyFamilies{newLegacy(t, url, 6)}
		l.exec(t, func(db *sql.DB) error {
			_, err := db.ExecContext(t.Context(),
				`INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at) VALUES (1, 'alice', 'alice', '', '', 'h', now())`)
			return err
		})
		return l
	})
}

// legacyFamilies is a schema at migration 00006.
type legacyFamilies struct{ legacy }

func (l legacyFamilies) Add(t *testing.T, s *latch.Session, tokens []latch.RefreshToken) {
	l.exec(t, func(db *sql.DB) error {
		if _, err := db.ExecContext(t.Context(),
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			s.ID, s.UserID, s.CreatedAt, s.LastUsedAt, s.ExpiresAt); err != nil {
			return err
		}
		for _, r := range tokens {
			var jti, succIssued, succExpires any
			if r.Successor != nil {
				jti, succIssued, succExpires = r.Successor.JTI, r.Successor.IssuedAt, r.Successor.ExpiresAt
			}
			if _, err := db.ExecContext(t.Context(),
				`INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at, spent_at, successor_jti, successor_issued_at, successor_expires_at)
				 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				r.Hash, r.SessionID, r.IssuedAt, r.ExpiresAt, nullTime(r.SpentAt), jti, succIssued, succExpires); err != nil {
				return err
			}
		}
		return nil
	})
}
