// Package ratelimit throttles requests as Django REST Framework users know
// it: at most N requests per period per key (client IP or user), counted
// over a sliding window, with the wait until the next request is allowed.
//
// Unlike DRF's cache-based throttle, checking and recording are one atomic
// step, so concurrent requests cannot slip past the limit.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N requests per Per.
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.N, r.Per) }

// ParseRate reads DRF's rate syntax: "20/min", "1000/hour", "5/s",
// "10/day" (only the first letter of the period counts, as in DRF).
// "off" or "" returns ok=false: no throttling.
func ParseRate(s string) (r Rate, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") || strings.EqualFold(s, "none") {
		return Rate{}, false, nil
	}
	num, period, found := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if !found || err != nil || n <= 0 || period == "" {
		return Rate{}, false, fmt.Errorf("rate %q: want N/second|minute|hour|day or off", s)
	}
	per := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[strings.ToLower(strings.TrimSpace(period))[0]]
	if per == 0 {
		return Rate{}, false, fmt.Errorf("rate %q: period must be second, minute, hour or day", s)
	}
	return Rate{N: n, Per: per}, true, nil
}

// Decision is a limiter's answer.
type Decision struct {
	Allowed bool
	// RetryAfter is, when refused, how long until a request would be allowed.
	RetryAfter time.Duration
}

// Limiter decides whether a request under key may proceed, and counts it
// when it does.
type Limiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
}
