package httpapi

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are latch's Prometheus collectors, registered on the registry
// the Server was given (never the global one).
type metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	logins      *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	revocations *prometheus.CounterVec
	throttled   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "latch_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_logins_total", Help: "Login attempts by result.",
		}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_refreshes_total", Help: "Token refreshes by result (ok, invalid, revoked, reuse_detected).",
		}, []string{"result"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_revocations_total", Help: "Revocations made through the API by kind.",
		}, []string{"kind"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_throttled_requests_total", Help: "Requests refused by throttling, by scope.",
		}, []string{"scope"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.logins, m.refreshes, m.revocations, m.throttled} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// route returns the observer of one route. Label lookups cost a hash of
// the label values; the children are looked up once per (method, code)
// and kept, and the last one used is checked first, so a request in steady
// state only compares and increments.
func (m *metrics) route(route string) func(method string, code int, d time.Duration) {
	latency := m.latency.WithLabelValues(route)
	type child struct {
		method string
		code   int
		c      prometheus.Counter
	}
	var last atomic.Pointer[child]
	var children sync.Map // child{method, code} without c -> *child
	return func(method string, code int, d time.Duration) {
		method = methodLabel(method)
		ch := last.Load()
		if ch == nil || ch.code != code || ch.method != method {
			k := child{method: method, code: code}
			v, ok := children.Load(k)
			if !ok {
				v, _ = children.LoadOrStore(k, &child{method, code, m.requests.WithLabelValues(route, method, strconv.Itoa(code))})
			}
			ch = v.(*child)
			last.Store(ch)
		}
		ch.c.Inc()
		latency.Observe(d.Seconds())
	}
}

// methodLabel is the method as a metric label: the methods of RFC 9110
// and PATCH, else "other". Clients invent methods at will, and every label
// value is a series kept for the life of the process.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "other"
}
