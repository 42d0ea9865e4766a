-- The hot-SKU reserve as a plain wrk run sends it (`npm run bench -- --generator wrk`): every
-- request is POST /v1/reserve of 1 unit of one stock key with an idempotency key of its own.
-- Arguments after `--`: product_id, warehouse_id, a key prefix unique to this wrk run, and an
-- Authorization header value ("" for none). At the end one line `WRK-RESULT {json}` gives the
-- counts (requests answered, requests sent) and the whole latency distribution (every distinct microsecond value and its count),
-- from which the bench rebuilds its HDR histogram.

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_index", #threads)
end

counter = 0
local prefix, head, tail, headers

function init(args)
  prefix = args[3] .. "-" .. thread_index .. "-"
  head = '{"product_id":"' .. args[1] .. '","warehouse_id":"' .. args[2] ..
    '","quantity":1,"ttl_seconds":3600,"idempotency_key":"'
  tail = '"}'
  headers = { ["Content-Type"] = "application/json" }
  if args[4] ~= nil and args[4] ~= "" then headers["Authorization"] = args[4] end
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/reserve", headers, head .. prefix .. counter .. tail)
end

function done(summary, latency, requests)
  local e = summary.errors
  -- Requests built and sent; wrk stops with one in flight on each connection and never reads
  -- its answer, so issued - requests were sent but not counted (they may have taken effect).
  local issued = 0
  for _, thread in ipairs(threads) do issued = issued + thread:get("counter") end
  local parts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    parts[#parts + 1] = string.format("[%d,%d]", value, count)
  end
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"issued":%d,"durationUs":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"latency":[%s]}\n',
    summary.requests, issued, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ",")))
end
