package postgres_test

import (
	"context"
	"log"

	"github.com/latch-auth/latch/postgres"
)

// Open connects, migrates, and serves as both latch.UserStore and
// latch.SessionStore.
func ExampleOpen() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, "postgres://latch@db.internal/latch?sslmode=verify-full&pool_max_conns=20")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.UserByUsername(ctx, "alice"); err != nil {
		log.Print(err)
	}
}

// OpenSchema keeps latch's tables apart from the application's.
func ExampleOpenSchema() {
	ctx := context.Background()
	db, err := postgres.OpenSchema(ctx, "postgres://latch@db.internal/app?sslmode=verify-full", "latch")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}
