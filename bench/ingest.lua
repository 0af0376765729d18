-- wrk script for bench/ingest: POST the signed 1.2 KB fixture order with a
-- unique X-Shopify-Webhook-Id per request (the HMAC covers only the body,
-- so one signature serves every request).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	path = args[1]
	sig = args[2]
	local f = io.open(args[3], "rb")
	body = f:read("*a")
	f:close()
end

function request()
	counter = counter + 1
	local headers = {
		["Content-Type"] = "application/json",
		["X-Shopify-Topic"] = "orders/create",
		["X-Shopify-Shop-Domain"] = "shop.example",
		["X-Shopify-Hmac-Sha256"] = sig,
		["X-Shopify-Webhook-Id"] = string.format("wrk-%d-%d-%d", tid, counter, os.time()),
	}
	return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
	io.write(string.format("RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d\n",
		summary.requests, summary.duration,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
