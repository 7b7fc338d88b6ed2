package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/latch-auth/latch/auth"
)

// ordersTTL bounds how long seed 000's example keeps a cached answer.
const ordersTTL = 5 * time.Minute

type orderBody struct {
	ID      int64  `json:"id"`
	Product string `json:"product"`
	User    string `json:"user"`
}

// orders is seed 000's example resource: the user's orders, served
// through the per-session cache. The first call answers "cached": false,
// the next true; a refresh or logout drops the entry.
func (s *Server) orders(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if s.opts.Orders == nil {
		return errNotFound
	}
	ctx := r.Context()
	cache := s.opts.Auth.Cache()
	if cache != nil && p.SessionID != "" {
		b, ok, err := cache.Get(ctx, p.SessionID, "orders")
		if err != nil {
			s.opts.Logger.Warn("session cache get", "err", err)
		}
		if ok {
			var data []orderBody
			if err := json.Unmarshal(b, &data); err == nil {
				writeJSON(w, http.StatusOK, ordersBody{Cached: true, Data: data})
				return nil
			}
		}
	}
	u, err := s.opts.Auth.User(ctx, p)
	if err != nil {
		return s.authError(err)
	}
	list, err := s.opts.Orders.Orders(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	data := make([]orderBody, len(list))
	for i, o := range list {
		data[i] = orderBody{ID: o.ID, Product: o.Product, User: u.Username}
	}
	if cache != nil && p.SessionID != "" {
		b, _ := json.Marshal(data)
		if err := cache.Set(ctx, p.SessionID, "orders", b, ordersTTL); err != nil {
			s.opts.Logger.Warn("session cache set", "err", err)
		}
	}
	writeJSON(w, http.StatusOK, ordersBody{Cached: false, Data: data})
	return nil
}

type ordersBody struct {
	Cached bool        `json:"cached"`
	Data   []orderBody `json:"data"`
}
