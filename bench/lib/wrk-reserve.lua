-- The hot-SKU reserve as a plain wrk run sends it (`npm run bench -- --generator wrk`): every
-- request is POST /v1/reserve of 1 unit of one stock key with an idempotency key of its own.
-- Arguments after `--`: product_id, warehouse_id, a key prefix unique to this wrk run, and an
-- Authorization header value ("" for none). At the end one line `WRK-RESULT {json}` gives the
-- counts (requests answered, requests sent) and the whole latency distribution (every distinct microsecond value and its count),
-- from which the bench rebuilds its HDR histogram (or, for a spread too wide to read so, its
-- quantiles: "approximate").

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

-- wrk's latency(i) walks its table from the smallest value on every call, so reading every
-- distinct value costs (distinct values) x (range): a second for a hot SKU's narrow spread, hours
-- for a crowd's answers spread over seconds. Past this many steps the distribution is read at
-- quantiles instead (approximate: every half percent to 99, every hundredth above), and says so.
-- A 60 s hot-SKU run, whose slowest answers take tens of ms, needs more than 2e9 steps (two of
-- three such runs were refused under that budget), so the budget is 4e10: such a run then ends
-- some seconds later, a crowd's still goes to quantiles.
-- WRK_RESERVE_WALK_BUDGET sets another budget (the tests read a run at quantiles with 0).
local walkBudget = tonumber(os.getenv("WRK_RESERVE_WALK_BUDGET") or "") or 4e10

local function distribution(latency, answers)
  local parts = {}
  local distinct = #latency
  if distinct * (latency.max - latency.min + 1) <= walkBudget then
    for i = 1, distinct do
      local value, count = latency(i)
      parts[#parts + 1] = string.format("[%d,%d]", value, count)
    end
    return parts, false
  end
  local quantiles = {}
  for step = 1, 198 do quantiles[#quantiles + 1] = step / 2 end
  for step = 9901, 10000 do quantiles[#quantiles + 1] = step / 100 end
  local counted = 0
  for _, q in ipairs(quantiles) do
    local upTo = math.floor(answers * q / 100 + 0.5)
    if upTo > counted then
      -- percentile(100) asks for a rank past the last answer, and wrk answers 0: the max it is.
      local value = q < 100 and latency:percentile(q) or latency.max
      parts[#parts + 1] = string.format("[%d,%d]", value, upTo - counted)
      counted = upTo
    end
  end
  return parts, true
end

function done(summary, latency, requests)
  local e = summary.errors
  -- Requests built and sent; wrk stops with one in flight on each connection and never reads
  -- its answer, so issued - requests were sent but not counted (they may have taken effect).
  local issued = 0
  for _, thread in ipairs(threads) do issued = issued + thread:get("counter") end
  local parts, approximate = distribution(latency, summary.requests)
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"issued":%d,"durationUs":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"approximate":%s,"latency":[%s]}\n',
    summary.requests, issued, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    tostring(approximate), table.concat(parts, ",")))
end
