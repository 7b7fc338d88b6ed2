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

	"github.com/latch-auth/latch/internal/testenv"
	"github.com/latch-auth/latch/storetest"
)

func TestAccountsMigration(t *testing.T) {
	url := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
	storetest.TestAccountsMigration(t, func(t *testing.T, emails []string) storetest.Legacy {
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
			if _, err := p.UpTo(t.Context(), 3); err != nil {
				return err
			}
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
