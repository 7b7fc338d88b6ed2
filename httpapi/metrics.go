package httpapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are latch's Prometheus collectors, registered on the registry
// the Server was given (never the global one).
type metrics struct {
	http        *httpStats // requests and latency by route
	logins      *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	revocations *prometheus.CounterVec
	throttled   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		http: newHTTPStats([]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_logins_total", Help: "Login attempts by result (ok, invalid_credentials, throttled, busy, unavailable, error).",
		}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_refreshes_total", Help: "Token refreshes by result (ok, invalid, revoked, reuse_detected, unavailable, error).",
		}, []string{"result"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_revocations_total", Help: "Revocations made through the API by kind.",
		}, []string{"kind"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_throttled_requests_total", Help: "Requests refused by throttling, by scope.",
		}, []string{"scope"}),
	}
	for _, c := range []prometheus.Collector{m.http, m.logins, m.refreshes, m.revocations, m.throttled} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// route returns the observer of one route.
func (m *metrics) route(route string) func(method string, code int, d time.Duration) {
	r := m.http.route(route)
	return func(method string, code int, d time.Duration) {
		r.observe(methodLabel(method), code, d)
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
