-- wrk script for the login flood of `make bench`: POST /api/token/ with
-- valid credentials (BENCH_USER / BENCH_PASSWORD), counting answers by
-- status. 503 is the hashing pool refusing work when full: expected.
local user = os.getenv("BENCH_USER") or "bob"
local pw = os.getenv("BENCH_PASSWORD") or ""

local function urlencode(s)
	return (s:gsub("[^%w%-%._~]", function(c)
		return string.format("%%%02X", string.byte(c))
	end))
end

wrk.method = "POST"
wrk.path = "/api/token/"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "username=" .. urlencode(user) .. "&password=" .. urlencode(pw)

-- BENCH_FLOOD_DELAY_MS paces each connection (ms between its requests),
-- so the flood offers a fixed rate of logins that saturates the hashing
-- pool; 0 is a closed loop, which floods HTTP itself rather than hashing.
local flood_delay = tonumber(os.getenv("BENCH_FLOOD_DELAY_MS") or "0") or 0
if flood_delay > 0 then
	function delay()
		return flood_delay
	end
end

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	ok, busy, other = 0, 0, 0
end

function response(status, headers, body)
	if status == 200 then
		ok = ok + 1
	elseif status == 503 then
		busy = busy + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local o, b, x = 0, 0, 0
	for _, t in ipairs(threads) do
		o = o + t:get("ok")
		b = b + t:get("busy")
		x = x + t:get("other")
	end
	local secs = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format(
		"FLOOD requests=%d secs=%.3f rps=%.1f ok=%d busy=%d other=%d p50_us=%.0f p99_us=%.0f sockerr=%d\n",
		summary.requests, secs, summary.requests / secs, o, b, x,
		latency:percentile(50), latency:percentile(99),
		e.connect + e.read + e.write + e.timeout))
end
