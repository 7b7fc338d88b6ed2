// Command benchserver is the floor of `make bench` (scripts/bench/run.sh):
// a bare net/http server whose GET /api/me/ answers the same constant body
// latch's /api/me/ does, with the http.Server settings of `latch serve`
// and no logging, authentication or metrics. latch's throughput is
// reported as a ratio of this server's, measured in the same run.
//
// It also serves the gateway scenario: without flags it is the upstream
// too (GET /shop/ping), and with -upstream URL it is the floor of that
// scenario instead, a plain httputil.ReverseProxy to URL with the upstream
// transport of latch's gateway (httpapi.NewUpstreamTransport) and nothing
// else. The plain proxy runs in a process of its own, as latch's gateway
// does: proxy and upstream in one Go runtime would share a scheduler that
// latch's gateway and the upstream cannot, and flatter the floor.
//
// With -gc-heap-floor N it runs the garbage collector as latch serve does
// with LATCH_GC_HEAP_FLOOR=N (make bench's BENCH_FLOOR_GC_HEAP_FLOOR), to
// compare latch's code alone rather than latch against Go's defaults.
//
// Usage: benchserver [-addr 127.0.0.1:0] [-upstream http://HOST:PORT] [-gc-heap-floor MiB]
// It prints "benchserver listening on http://HOST:PORT" once it accepts
// connections, and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latch-auth/latch/httpapi"
	"github.com/latch-auth/latch/internal/gcfloor"
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
	upstream := flag.String("upstream", "", "serve a plain reverse proxy to this URL instead")
	gcFloor := flag.Int("gc-heap-floor", 0, "keep the GC heap goal at least this many MiB, as latch serve does (0: Go's default)")
	flag.Parse()
	if *gcFloor > 0 && !gcfloor.Overridden() {
		// The same runtime setting as latch, for comparing code alone.
		go gcfloor.Run(context.Background(), uint64(*gcFloor)<<20, 500*time.Millisecond)
	}
	if err := run(*addr, *upstream); err != nil {
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

func run(addr, upstream string) error {
	var h http.Handler
	if upstream != "" {
		target, err := httpapi.ParseUpstream(upstream)
		if err != nil {
			return fmt.Errorf("-upstream: %w", err)
		}
		h = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport:     httpapi.NewUpstreamTransport(),
			FlushInterval: -1,
		}
	} else {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/me/", constant(meBody))
		mux.HandleFunc("GET /shop/ping", constant(pingBody))
		h = mux
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	listeners, servers := []net.Listener{ln}, []*http.Server{newServer(h)}
	banner := fmt.Sprintf("benchserver listening on http://%s", ln.Addr())
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
