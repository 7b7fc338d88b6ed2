// Command benchproxy is the floor of the gateway scenario of `make bench`
// (scripts/bench/run.sh): it runs an upstream whose GET /shop/ping answers
// a small constant JSON body, and a plain httputil.ReverseProxy to it with
// the http.Server settings of `latch serve` and the same upstream transport
// as latch's gateway (httpapi.NewUpstreamTransport), without
// authentication, identity headers, logging or metrics. latch's gateway is
// pointed at the same upstream; its throughput is reported as a ratio of
// this proxy's, measured in the same run.
//
// Usage: benchproxy [-addr 127.0.0.1:0] [-upstream-addr 127.0.0.1:0]
// It prints "benchproxy listening on http://PROXY upstream http://UPSTREAM"
// once both accept connections, and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latch-auth/latch/httpapi"
)

var pingBody = []byte(`{"ok":true,"service":"upstream"}`)

func ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(pingBody)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "the proxy's listen address (port 0: a free port)")
	upAddr := flag.String("upstream-addr", "127.0.0.1:0", "the upstream's listen address")
	flag.Parse()
	if err := run(*addr, *upAddr); err != nil {
		fmt.Fprintln(os.Stderr, "benchproxy:", err)
		os.Exit(1)
	}
}

// newServer has the settings of `latch serve` (server.Serve).
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func run(addr, upAddr string) error {
	upLn, err := net.Listen("tcp", upAddr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		upLn.Close()
		return err
	}
	target := &url.URL{Scheme: "http", Host: upLn.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shop/ping", ping)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:     httpapi.NewUpstreamTransport(),
		FlushInterval: -1,
	}
	servers := []*http.Server{newServer(mux), newServer(proxy)}
	errc := make(chan error, len(servers))
	for i, l := range []net.Listener{upLn, ln} {
		go func() { errc <- servers[i].Serve(l) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("benchproxy listening on http://%s upstream %s\n", ln.Addr(), target)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(shutdownCtx))
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
