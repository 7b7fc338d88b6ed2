package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/latch-auth/latch/client"
)

// A Client logs in once; its HTTPClient then attaches the access token to
// every request for latch and refreshes it transparently when it expires.
func ExampleClient() {
	// startLatch runs a real latch server (SQLite in a temporary
	// directory) with the user alice; in production the URL is your latch.
	srv, err := startLatch()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Login(ctx, "alice", "correct horse battery staple"); err != nil {
		log.Fatal(err)
	}
	hc := c.HTTPClient()

	get := func(path string, v any) {
		res, err := hc.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			log.Fatal(err)
		}
	}
	var me struct {
		Username string `json:"username"`
	}
	var orders struct {
		Cached bool `json:"cached"`
	}
	get("/api/me/", &me)
	fmt.Println("me:", me.Username)
	get("/api/orders/", &orders)
	fmt.Println("orders cached:", orders.Cached)
	get("/api/orders/", &orders)
	fmt.Println("orders cached:", orders.Cached)

	// The access token expires; the next request is answered 401, the
	// client refreshes once and sends it again. The refresh dropped the
	// session's cache.
	srv.Clock.Advance(2 * time.Minute)
	get("/api/orders/", &orders)
	fmt.Println("after expiry, orders cached:", orders.Cached, "refreshes:", srv.refreshes.Load())

	if err := c.Logout(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = hc.Get(srv.URL + "/api/me/")
	fmt.Println("logged out:", errors.Is(err, client.ErrLoggedOut))
	// Output:
	// me: alice
	// orders cached: false
	// orders cached: true
	// after expiry, orders cached: false refreshes: 1
	// logged out: true
}

// Tokens survive restarts when OnTokens persists them and SetTokens
// restores them.
func ExampleNew() {
	const file = "latch-tokens.json"
	c, err := client.New("https://auth.example.com", client.Options{
		MaxRetries: 3,
		OnTokens: func(access, refresh string) {
			b, _ := json.Marshal([2]string{access, refresh})
			if err := os.WriteFile(file, b, 0o600); err != nil {
				log.Print(err)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	var saved [2]string
	if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &saved) == nil {
		c.SetTokens(saved[0], saved[1])
	} else if err := c.Login(context.Background(), "alice", os.Getenv("PASSWORD")); err != nil {
		log.Fatal(err)
	}
	res, err := c.HTTPClient().Get("https://auth.example.com/api/me/")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	fmt.Println(res.Status)
}

// The Transport can serve an http.Client of one's own, with its own
// redirect policy or cookie jar.
func ExampleClient_Transport() {
	c, err := client.New("https://auth.example.com", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	hc := &http.Client{
		Transport: c.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	_ = hc
}
