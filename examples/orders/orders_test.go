package orders_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/examples/orders"
	"github.com/latch-auth/latch/internal/testenv"
	"github.com/latch-auth/latch/postgres"
	"github.com/latch-auth/latch/sqlite"
)

// testStore checks a Store on latch's database: concurrent first calls
// seed the demo orders exactly once, in order.
func testStore(t *testing.T, users latch.UserStore, store orders.Store) {
	ctx := context.Background()
	u := &latch.User{Username: "orders", PasswordHash: "x", Role: "user", IsActive: true}
	if err := users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := store.Orders(ctx, u.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := store.Orders(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"laptop", "mouse"}
	if len(got) != len(want) {
		t.Fatalf("got %d orders, want %d: %+v", len(got), len(want), got)
	}
	for i, o := range got {
		if o.Product != want[i] || o.UserID != u.ID || o.CreatedAt.IsZero() {
			t.Errorf("order %d = %+v, want product %q of user %d", i, o, want[i], u.ID)
		}
	}
}

func TestSQLiteStore(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testStore(t, db, orders.SQLiteStore{DB: db.SQL()})
}

func TestPostgresStore(t *testing.T) {
	base := testenv.Getenv(t, "LATCH_TEST_POSTGRES_URL")
	schema := "t_" + strings.ToLower(rand.Text())
	db, err := postgres.OpenSchema(context.Background(), base, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		db.Close()
		if conn, err := pgx.Connect(context.Background(), base); err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	}()
	testStore(t, db, orders.PostgresStore{Pool: db.Pool()})
}
