-- wrk script for `make bench` (scripts/bench/run.sh): prints one
-- machine-readable WRK line at the end. Latencies are in microseconds.
-- BENCH_PACE_MS > 0 paces each connection (think time between requests).
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "0") or 0
if pace > 0 then
	function delay()
		return pace
	end
end

function done(summary, latency, requests)
	local secs = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format(
		"WRK requests=%d secs=%.3f rps=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f non2xx=%d sockerr=%d\n",
		summary.requests, secs, summary.requests / secs,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency:percentile(99.9), latency.max,
		e.status, e.connect + e.read + e.write + e.timeout))
end
