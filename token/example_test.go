package token_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latch-auth/latch/token"
)

func ExampleEngine_Sign() {
	// In production the key comes from token.LoadOrCreateKeySet or
	// token.GenerateKey; a fixed secret and clock make the output stable.
	key, err := token.NewHMACKey("HS256", []byte("example secret, use token.GenerateKey"))
	if err != nil {
		panic(err)
	}
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	e, err := token.New(token.Options{SigningKey: key, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	raw, err := e.Sign(token.Claims{
		Type:      token.Access,
		ID:        "e3b0c44298fc1c149afbf4c8996fb924", // usually token.NewID()
		UserID:    "1",
		ExpiresAt: now.Add(5 * time.Minute),
		Extra:     map[string]any{"username": "alice", "role": "admin"},
	})
	if err != nil {
		panic(err)
	}
	parts := strings.Split(raw, ".")
	for _, seg := range parts[:2] {
		b, _ := base64.RawURLEncoding.DecodeString(seg)
		fmt.Println(string(b))
	}
	fmt.Println(raw)
	// Output:
	// {"alg":"HS256","kid":"41756dda3332e50c","typ":"JWT"}
	// {"token_type":"access","exp":1704164945,"iat":1704164645,"jti":"e3b0c44298fc1c149afbf4c8996fb924","user_id":1,"role":"admin","username":"alice"}
	// eyJhbGciOiJIUzI1NiIsImtpZCI6IjQxNzU2ZGRhMzMzMmU1MGMiLCJ0eXAiOiJKV1QifQ.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzA0MTY0OTQ1LCJpYXQiOjE3MDQxNjQ2NDUsImp0aSI6ImUzYjBjNDQyOThmYzFjMTQ5YWZiZjRjODk5NmZiOTI0IiwidXNlcl9pZCI6MSwicm9sZSI6ImFkbWluIiwidXNlcm5hbWUiOiJhbGljZSJ9.QuNEk4StXc5cRfG8soTP-tlHjU4JGlCdOx8GMcgBn-s
}

func ExampleEngine_Parse() {
	key, err := token.NewHMACKey("HS256", []byte("django-insecure-secret"))
	if err != nil {
		panic(err)
	}
	now := time.Unix(1_700_000_000, 0)
	e, err := token.New(token.Options{SigningKey: key, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	// An access token as SimpleJWT 5.2.2 mints it with the same secret:
	// {"token_type":"access","exp":1700000300,"iat":1700000000,
	//  "jti":"3f6c1b1e9a7d4c2b8e5f0a1d2c3b4a59","user_id":1,"username":"alice"}
	const raw = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzAwMDAwMzAwLCJpYXQiOjE3MDAwMDAwMDAsImp0aSI6IjNmNmMxYjFlOWE3ZDRjMmI4ZTVmMGExZDJjM2I0YTU5IiwidXNlcl9pZCI6MSwidXNlcm5hbWUiOiJhbGljZSJ9.cDWbw9E-Zm2btOU6WqNc6VTBFwQyiH-hzqzjNiklBqU"
	c, err := e.Parse(raw, token.Access)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Type, c.UserID, c.Extra["username"], c.ExpiresAt.Sub(now))

	// The refresh endpoint refuses it.
	_, err = e.Parse(raw, token.Refresh)
	fmt.Println(err, errors.Is(err, token.ErrWrongType))
	// Output:
	// access 1 alice 5m0s
	// Token has wrong type true
}
