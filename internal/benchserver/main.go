// Command benchserver is the floor of `make bench` (scripts/bench/run.sh):
// a bare net/http server whose GET /api/me/ answers the same constant body
// latch's /api/me/ does, with the http.Server settings of `latch serve`
// and no logging, authentication or metrics. latch's throughput is
// reported as a ratio of this server's, measured in the same run.
//
// With -proxy it is the floor of the gateway scenario instead: the same
// server is the upstream (also answering GET /shop/ping) on a second free
// port, and -addr serves a plain httputil.ReverseProxy to it with the
// upstream transport of latch's gateway (httpapi.NewUpstreamTransport) and
// nothing else. latch's gateway is pointed at the same upstream.
//
// Usage: benchserver [-addr 127.0.0.1:0] [-proxy]
// It prints "benchserver listening on http://HOST:PORT" (with -proxy,
// followed by " upstream http://HOST:PORT") once it accepts connections,
// and stops on SIGINT or SIGTERM.
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

var (
	meBody   = []byte(`{"id":1,"username":"alice","role":"user","email":"alice@example.com"}`)
	pingBody = []byte(`{"ok":true,"service":"upstream"}`)
)

func constant(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0: a free port)")
	proxy := flag.Bool("proxy", false, "serve a plain reverse proxy on -addr to this server on a second free port")
	flag.Parse()
	if err := run(*addr, *proxy); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
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

func run(addr string, proxy bool) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/me/", constant(meBody))
	mux.HandleFunc("GET /shop/ping", constant(pingBody))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	listeners, servers := []net.Listener{ln}, []*http.Server{newServer(mux)}
	banner := fmt.Sprintf("benchserver listening on http://%s", ln.Addr())
	if proxy {
		upLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ln.Close()
			return err
		}
		target := &url.URL{Scheme: "http", Host: upLn.Addr().String()}
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport:     httpapi.NewUpstreamTransport(),
			FlushInterval: -1,
		}
		listeners = append(listeners, upLn)
		servers = []*http.Server{newServer(rp), newServer(mux)}
		banner += " upstream " + target.String()
	}
	errc := make(chan error, len(servers))
	for i, l := range listeners {
		go func() { errc <- servers[i].Serve(l) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println(banner)
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
