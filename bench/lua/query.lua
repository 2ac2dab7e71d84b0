-- Reads: $BENCH_MODE is product (product(id) of a random id from $BENCH_IDS) or page (a
-- products page filtered by a random category and maxPrice), asked as GraphQL (POST to the
-- URL's path) or, with $BENCH_REST=1, from the baseline app's bare endpoints (GET).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local PRODUCT = '{"query":"query($id: ID!) { product(id: $id) { id sku name description price { amount currency } category tags brand version updatedAt } }",' ..
  '"variables":{"id":"%s"}}'
local PAGE = '{"query":"query($f: ProductFilter) { products(filter: $f, first: 20) { edges { cursor node { id name price { amount currency } category } } pageInfo { hasNextPage endCursor } } }",' ..
  '"variables":{"f":{"category":"%s","maxPrice":"%d.00"}}}'

local mode = os.getenv("BENCH_MODE")
local rest = os.getenv("BENCH_REST") == "1"
local categories = tonumber(os.getenv("BENCH_CATEGORIES") or "20")
local ids

if not rest then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function init(args)
  seed()
  if mode == "product" then ids = read_lines(os.getenv("BENCH_IDS")) end
end

function request()
  if mode == "product" then
    local id = ids[math.random(#ids)]
    if rest then return wrk.format("GET", "/product?id=" .. id) end
    return wrk.format(nil, nil, nil, string.format(PRODUCT, id))
  end
  local category = string.format("category-%02d", math.random(0, categories - 1))
  local max_price = math.random(100, 999)
  if rest then
    return wrk.format("GET", string.format("/products?category=%s&max_price=%d.00", category, max_price))
  end
  return wrk.format(nil, nil, nil, string.format(PAGE, category, max_price))
end
