package main

import (
	"context"
	"errors"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/sqlite"
)

var _ = sqlite.Open

// openBus connects to Redis when configured; nil means in-process state.
func openBus(ctx context.Context, cfg *config.Config) (latch.RevocationBus, func() error, error) {
	if cfg.RedisURL == "" {
		return nil, nil, nil
	}
	return nil, nil, errors.New("redis-url: Redis support is not built yet")
}

func openPostgres(ctx context.Context, url string) (store, error) {
	return nil, errors.New("database-url: PostgreSQL support is not built yet")
}
