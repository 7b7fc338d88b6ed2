package client

import (
	"context"
	"time"
)

// Hooks for the external tests.

// SetSleep replaces the wait between retries.
func SetSleep(c *Client, sleep func(ctx context.Context, d time.Duration) error) { c.sleep = sleep }

// Generation is the generation of the Client's tokens.
func Generation(c *Client) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// RefreshAccess is the single-flight refresh, for a 401 that answered the
// tokens of generation stale.
func RefreshAccess(c *Client, ctx context.Context, stale uint64) (string, error) {
	access, _, err := c.refreshAccess(ctx, stale)
	return access, err
}

var ParseRetryAfter = parseRetryAfter

var AccessRefused = accessRefused
