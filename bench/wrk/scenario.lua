-- One wrk script for every benchmark scenario; bench/wrk.py sets the environment.
--
-- BENCH_SCENARIO  get | me | orders | grab | checkout | paths | join
--                 paths: BENCH_DATA rows are "token path", each request a GET of the next path with its token
--                 join: POST /api/circles/<BENCH_ACTIVITY>/join (rules version 1) with the next row's token
-- BENCH_PATH      the path for `get`
-- BENCH_DATA      a file of rows "token address_id" (one buyer a line), rotated through
-- BENCH_SKUS      "sku,sku" (orders, checkout) or the flash SKU (grab)
-- BENCH_SHOP      shop id (orders, checkout); BENCH_ACTIVITY: flash activity id (grab)
-- BENCH_RUN       a run id: Idempotency-Keys are "<run>-<thread>-<n>", unique across the whole run
--
-- `checkout` is a three-request journey (order, pay, sandbox notification) and needs one connection per
-- thread (-t N -c N) so that each thread's requests and responses strictly alternate.
-- done() prints one JSON line: per-status counts, journeys completed, latency percentiles (µs).

local scenario = os.getenv("BENCH_SCENARIO") or "get"
local path = os.getenv("BENCH_PATH") or "/api/ping"
local data_file = os.getenv("BENCH_DATA")
local skus_env = os.getenv("BENCH_SKUS") or ""
local shop = os.getenv("BENCH_SHOP") or "0"
local activity = os.getenv("BENCH_ACTIVITY") or "0"
local run = os.getenv("BENCH_RUN") or tostring(os.time())

local threads = {}
local nthreads_total = 0

function setup(thread)
  thread:set("tid", nthreads_total)
  nthreads_total = nthreads_total + 1
  table.insert(threads, thread)
end

local function split(s, sep)
  local out = {}
  for f in string.gmatch(s, "([^" .. sep .. "]+)") do table.insert(out, f) end
  return out
end

function init(args)
  rows = {}
  if data_file then
    for line in io.lines(data_file) do
      local f = split(line, " ")
      if #f >= 2 then table.insert(rows, { token = f[1], address = f[2] }) end
    end
  end
  skus = split(skus_env, ",")
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  codes = {}
  journeys = 0
  n = 0
  step = 1
  order_id = nil
  trade_no = nil
  row = nil
end

local function next_row()
  n = n + 1
  return rows[((tid + (n - 1) * nthreads) % #rows) + 1]
end

local function auth(r)
  return { ["Authorization"] = "Bearer " .. r.token, ["Content-Type"] = "application/json" }
end

local function order_body(r)
  return string.format(
    '{"address_id": %s, "items": [{"sku_id": %s, "quantity": 1, "shop_id": %s}, {"sku_id": %s, "quantity": 1, "shop_id": %s}]}',
    r.address, skus[1], shop, skus[2], shop)
end

function request()
  if scenario == "get" then
    return wrk.format("GET", path)
  elseif scenario == "me" then
    local r = next_row()
    return wrk.format("GET", "/api/auth/me", auth(r))
  elseif scenario == "orders" then
    local r = next_row()
    local h = auth(r)
    h["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, n)
    return wrk.format("POST", "/api/orders", h, order_body(r))
  elseif scenario == "grab" then
    local r = next_row()
    local body = string.format('{"sku_id": %s, "quantity": 1, "address_id": %s}', skus[1], r.address)
    return wrk.format("POST", "/api/flashsale/" .. activity .. "/grab", auth(r), body)
  elseif scenario == "paths" then
    local r = next_row()
    return wrk.format("GET", r.address, auth(r))
  elseif scenario == "join" then
    local r = next_row()
    return wrk.format("POST", "/api/circles/" .. activity .. "/join", auth(r), '{"accepted_rules_version": 1}')
  elseif scenario == "checkout" then
    if step == 1 then
      row = next_row()
      local h = auth(row)
      h["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, n)
      return wrk.format("POST", "/api/orders", h, order_body(row))
    elseif step == 2 then
      return wrk.format("POST", "/api/orders/" .. order_id .. "/pay", auth(row), '{"provider": "sandbox"}')
    else
      return wrk.format("POST", "/api/payments/sandbox/" .. trade_no .. "/pay", auth(row))
    end
  end
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if scenario == "checkout" then
    if step == 1 and status == 201 then
      order_id = string.match(body, '"orders":%s*%[%s*{%s*"id":%s*(%d+)')
      step = order_id and 2 or 1
    elseif step == 2 and status == 200 then
      trade_no = string.match(body, '"out_trade_no":%s*"([^"]+)"')
      step = trade_no and 3 or 1
    elseif step == 3 then
      if status == 200 and string.find(body, '"outcome":%s*"paid"') then journeys = journeys + 1 end
      step = 1
    else
      step = 1
    end
  end
end

function done(summary, latency, requests)
  local all = {}
  local total_journeys = 0
  for _, t in ipairs(threads) do
    local c = t:get("codes")
    for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
    total_journeys = total_journeys + (t:get("journeys") or 0)
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, string.format('"%d": %d', k, v)) end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"journeys": %d, "codes": {%s}}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, total_journeys, table.concat(parts, ", ")))
end
