package httpapi

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latch-auth/latch/internal/striped"
)

// httpStats is the collector of latch_http_requests_total and
// latch_http_request_duration_seconds. Every request updates both, from
// both cores at once: prometheus's CounterVec and HistogramVec children
// keep one set of atomics per series, a cache line the cores pass back and
// forth on each request (~5 % of latch's CPU on /api/me/). Here each
// series is cut into stripes a request picks at random, and a scrape adds
// them up.
type httpStats struct {
	requests, latency *prometheus.Desc
	buckets           []float64 // upper bounds, in seconds

	mu     sync.Mutex
	routes []*routeStats
}

// statStripes is how many stripes a latency series has (as a
// striped.Counter); maxBuckets how many buckets it may have.
const (
	statStripes = striped.Stripes
	maxBuckets  = 16
)

func newHTTPStats(buckets []float64) *httpStats {
	return &httpStats{
		requests: prometheus.NewDesc("latch_http_requests_total", "HTTP requests by route, method and status code.",
			[]string{"route", "method", "code"}, nil),
		latency: prometheus.NewDesc("latch_http_request_duration_seconds", "HTTP request latency by route.",
			[]string{"route"}, nil),
		buckets: buckets,
	}
}

// routeStats holds one route's series.
type routeStats struct {
	route   string
	bounds  []int64 // the buckets' upper bounds in nanoseconds
	stripes [statStripes]latencyStripe
	last    atomic.Pointer[codeStats]
	codes   sync.Map // codeKey -> *codeStats
}

// latencyStripe is one stripe of a route's histogram, alone on its cache
// lines.
type latencyStripe struct {
	_       [64]byte
	count   atomic.Uint64
	sum     atomic.Int64 // nanoseconds
	buckets [maxBuckets]atomic.Uint64
}

type codeKey struct {
	method string
	code   int
}

// codeStats counts one route's requests of one method and status code.
type codeStats struct {
	codeKey
	n striped.Counter
}

// route returns the series of route (created once, at startup).
func (h *httpStats) route(route string) *routeStats {
	if len(h.buckets) > maxBuckets {
		panic("httpStats: too many buckets")
	}
	r := &routeStats{route: route, bounds: make([]int64, len(h.buckets))}
	for i, b := range h.buckets {
		r.bounds[i] = int64(b * float64(time.Second))
	}
	h.mu.Lock()
	h.routes = append(h.routes, r)
	h.mu.Unlock()
	return r
}

// observe counts a request of method (a methodLabel) answered with code
// after d.
func (r *routeStats) observe(method string, code int, d time.Duration) {
	i := rand.N(statStripes)
	c := r.last.Load()
	if c == nil || c.code != code || c.method != method {
		c = r.codeStats(codeKey{method, code})
		r.last.Store(c)
	}
	c.n.Add()
	s := &r.stripes[i]
	ns := int64(d)
	// Count first: a scrape reads the buckets before the count, so it
	// never sees more in the buckets than in the count.
	s.count.Add(1)
	s.sum.Add(ns)
	// The first bucket whose upper bound is at least d, if any (else
	// only the count, +Inf, has it).
	if b, _ := slices.BinarySearch(r.bounds, ns); b < len(r.bounds) {
		s.buckets[b].Add(1)
	}
}

func (r *routeStats) codeStats(k codeKey) *codeStats {
	if c, ok := r.codes.Load(k); ok {
		return c.(*codeStats)
	}
	c, _ := r.codes.LoadOrStore(k, &codeStats{codeKey: k})
	return c.(*codeStats)
}

// Describe implements prometheus.Collector.
func (h *httpStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- h.requests
	ch <- h.latency
}

// Collect implements prometheus.Collector.
func (h *httpStats) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	routes := slices.Clone(h.routes)
	h.mu.Unlock()
	for _, r := range routes {
		var buckets [maxBuckets]uint64
		var sum int64
		var count uint64
		for i := range r.stripes {
			s := &r.stripes[i]
			for b := range r.bounds {
				buckets[b] += s.buckets[b].Load()
			}
			sum += s.sum.Load()
			count += s.count.Load() // after its buckets (see observe)
		}
		cumulative := make(map[float64]uint64, len(r.bounds))
		var acc uint64
		for b, upper := range h.buckets {
			acc += buckets[b]
			cumulative[upper] = acc
		}
		ch <- prometheus.MustNewConstHistogram(h.latency, count, float64(sum)/float64(time.Second), cumulative, r.route)
		r.codes.Range(func(_, v any) bool {
			c := v.(*codeStats)
			ch <- prometheus.MustNewConstMetric(h.requests, prometheus.CounterValue, float64(c.n.Load()), r.route, c.method, strconv.Itoa(c.code))
			return true
		})
	}
}
