// Package orders is the example application of seed 000, built on latch's
// public API as any embedding application would be: GET /api/orders/
// answers the caller's orders through latch's per-session cache,
//
//	{"cached": false, "data": [...]}  then  {"cached": true, ...}
//
// and latch drops the cached answer when the session rotates, logs out or
// is revoked, so the next call reads the database again.
//
// The orders live in the application's own table (orders), next to
// latch's in the same database; Store reads them.
package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/httpapi"
)

// Order is one of a user's orders.
type Order struct {
	ID        int64
	UserID    int64
	Product   string
	CreatedAt time.Time
}

// Store keeps the orders.
type Store interface {
	// Orders returns the user's orders, oldest first. A user who has none
	// is given the demo orders first, so that the example has data to
	// cache.
	Orders(ctx context.Context, userID int64) ([]Order, error)
}

// demoProducts are the orders every user starts with.
func demoProducts() []string { return []string{"laptop", "mouse"} }

// cacheTTL bounds how long a cached answer lives if latch never drops it.
const cacheTTL = 5 * time.Minute

// cacheKey names the cached answer within the session's values.
const cacheKey = "orders"

type orderBody struct {
	ID      int64  `json:"id"`
	Product string `json:"product"`
	User    string `json:"user"`
}

type listBody struct {
	Cached bool        `json:"cached"`
	Data   []orderBody `json:"data"`
}

// Route is GET /api/orders/, for httpapi.Options.Routes: latch
// authenticates the caller and throttles it; errors returned are rendered
// by latch.
func Route(svc *auth.Service, store Store) httpapi.Route {
	return httpapi.Route{Path: "/api/orders/", Method: http.MethodGet, Handle: func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		return list(w, r, p, svc, store)
	}}
}

func list(w http.ResponseWriter, r *http.Request, p *auth.Principal, svc *auth.Service, store Store) error {
	ctx := r.Context()
	cache := svc.CacheFor(p) // the values of p's session, as cached since its last refresh
	if cache != nil {
		// A cache that fails is a cache miss: the database still answers.
		if b, ok, err := cache.Get(ctx, cacheKey); err == nil && ok {
			var data []orderBody
			if json.Unmarshal(b, &data) == nil {
				return writeJSON(w, listBody{Cached: true, Data: data})
			}
		}
	}
	u, err := svc.User(ctx, p)
	if err != nil {
		return err
	}
	orders, err := store.Orders(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	data := make([]orderBody, len(orders))
	for i, o := range orders {
		data[i] = orderBody{ID: o.ID, Product: o.Product, User: u.Username}
	}
	if cache != nil {
		b, _ := json.Marshal(data)
		_ = cache.Set(ctx, cacheKey, b, cacheTTL) // best effort: the answer is already right
	}
	return writeJSON(w, listBody{Cached: false, Data: data})
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}
