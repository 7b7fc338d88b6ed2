package httpapi

import (
	"bytes"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// httpStats exposes what prometheus's own CounterVec and HistogramVec
// would, given the same requests: names, help, labels, buckets, counts and
// sums.
func TestHTTPStatsAsPrometheus(t *testing.T) {
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latch_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "latch_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: buckets,
	}, []string{"route"})
	stats := newHTTPStats(buckets)

	type req struct {
		route, method string
		code          int
		d             time.Duration
	}
	var reqs []req
	for i, d := range []time.Duration{0, 50 * time.Microsecond, 100 * time.Microsecond, 101 * time.Microsecond,
		250 * time.Microsecond, 3 * time.Millisecond, 999 * time.Millisecond, time.Second, 2 * time.Second, 7 * time.Minute} {
		reqs = append(reqs, req{"/api/me/", "GET", 200, d}, req{"/api/me/", "GET", 401, d / 2},
			req{"/api/token/", []string{"POST", "other"}[i%2], 400 + i%3, d})
	}
	routes := map[string]*routeStats{}
	for _, r := range []string{"/api/me/", "/api/token/", "/api/never/"} {
		routes[r] = stats.route(r)
		latency.WithLabelValues(r)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, r := range reqs {
				routes[r.route].observe(r.method, r.code, r.d)
				requests.WithLabelValues(r.route, r.method, strconv.Itoa(r.code)).Inc()
				latency.WithLabelValues(r.route).Observe(r.d.Seconds())
			}
		})
	}
	wg.Wait()

	for _, c := range []struct {
		name string
		ref  prometheus.Collector
	}{{"latch_http_request_duration_seconds", latency}, {"latch_http_requests_total", requests}} {
		want := roundSums(format(t, c.ref, c.name))
		got := roundSums(format(t, stats, c.name))
		if !bytes.Equal(got, want) {
			t.Errorf("httpStats exposes\n%s\nprometheus's collectors\n%s", got, want)
		}
	}
}

// roundSums rounds the _sum values to the microsecond: httpStats adds
// nanoseconds as integers, prometheus adds float seconds, with rounding.
func roundSums(b []byte) []byte {
	return sumLine.ReplaceAllFunc(b, func(m []byte) []byte {
		i := bytes.LastIndexByte(m, ' ')
		f, err := strconv.ParseFloat(string(m[i+1:]), 64)
		if err != nil {
			return m
		}
		return append(m[:i+1:i+1], strconv.FormatFloat(f, 'f', 6, 64)...)
	})
}

var sumLine = regexp.MustCompile(`(?m)_sum\{[^}]*\} \S+$`)

func format(t *testing.T, c prometheus.Collector, name string) []byte {
	t.Helper()
	b, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
