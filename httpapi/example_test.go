package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/latch-auth/latch/auth"
	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/password"
	"github.com/latch-auth/latch/revocation"
	"github.com/latch-auth/latch/sqlite"
	"github.com/latch-auth/latch/token"
)

// Example embeds latch in an application: its token endpoints on /api/,
// and the application's own handler behind Require, reading the caller.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "latch-example-")
	defer os.RemoveAll(dir)

	db, err := sqlite.Open(ctx, filepath.Join(dir, "latch.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	key, _ := token.GenerateKey("HS256") // in production: a configured or persisted key
	engine, _ := token.New(token.Options{SigningKey: key})
	hasher, _ := password.NewHasher(password.Params{})
	opts := auth.DefaultOptions()
	revocations, _ := revocation.NewManager(revocation.Options{Source: db, Window: auth.RevocationWindow(opts)})
	revocations.Load(ctx)
	opts.Users, opts.Sessions, opts.Tokens, opts.Hasher, opts.Revocations = db, db, engine, hasher, revocations
	svc, err := auth.New(opts)
	if err != nil {
		panic(err)
	}
	svc.Signup(ctx, "alice", "correct horse battery", "")

	api, _ := httpapi.New(httpapi.Options{Auth: svc, Tokens: engine})
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/hello", api.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := httpapi.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello, user %d", p.UserID)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	pair, _ := svc.Login(ctx, "alice", "correct horse battery", auth.Client{})
	req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
	req.Header.Set("Authorization", "Bearer "+pair.Access)
	res, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))

	res, _ = http.Get(srv.URL + "/hello")
	fmt.Println(res.StatusCode, res.Header.Get("WWW-Authenticate"))
	// Output:
	// 200 hello, user 1
	// 401 Bearer realm="api"
}

// ExampleListener serves with net/http's own refusals (a request it cannot
// parse) answered as JSON, like latch's errors.
func ExampleListener() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(httpapi.Listener(ln))
	defer srv.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /%zz HTTP/1.1\r\nHost: example\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"), string(body))
	// Output: 400 application/json {"detail":"Malformed HTTP request."}
}
