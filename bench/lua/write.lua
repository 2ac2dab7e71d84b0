-- Write path: alternately a createProduct (fresh id, one of the catalog's categories) and an
-- updateProduct (new price) of a random product of the catalog ($BENCH_IDS). The baseline
-- endpoint gets the very same bodies.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local CREATE = '{"query":"mutation($in: CreateProductInput!) { createProduct(input: $in) { id version eventId position { partition offset } } }",' ..
  '"variables":{"in":{"id":"%s","sku":"BENCH-%d","name":"Bench product %d","description":"A product made by the benchmark",' ..
  '"price":{"amount":"%d.%02d","currency":"EUR"},"category":"category-%02d","tags":["tag-%02d","bench"],"brand":"Bench"}}}'
local UPDATE = '{"query":"mutation($in: UpdateProductInput!) { updateProduct(input: $in) { id version eventId position { partition offset } } }",' ..
  '"variables":{"in":{"id":"%s","price":{"amount":"%d.%02d","currency":"EUR"}}}}'

local ids
local n = 0
-- $BENCH_TRACEPARENT=1: every request carries a new W3C traceparent, as a traced client's would.
local traced = os.getenv("BENCH_TRACEPARENT") == "1"

local function traceparent()
  local r = math.random
  return string.format("00-%04x%04x%04x%04x%04x%04x%04x%04x-%04x%04x%04x%04x-01",
    r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535),
    r(1, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(1, 65535))
end

function init(args)
  seed()
  ids = read_lines(os.getenv("BENCH_IDS"))
end

function request()
  n = n + 1
  local body
  if n % 2 == 1 then
    body = string.format(CREATE, uuid4(), n, n, math.random(1, 999), math.random(0, 99),
      math.random(0, 19), math.random(0, 49))
  else
    body = string.format(UPDATE, ids[math.random(#ids)], math.random(1, 999), math.random(0, 99))
  end
  if traced then
    wrk.headers["traceparent"] = traceparent()
  end
  return wrk.format(nil, nil, nil, body)
end
