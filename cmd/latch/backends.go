package main

import (
	"context"

	"github.com/latch-auth/latch/postgres"
)

func openPostgres(ctx context.Context, url string) (store, error) {
	return postgres.Open(ctx, url)
}
