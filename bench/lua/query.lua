-- Reads: $BENCH_MODE is product (product(id) of a random id from $BENCH_IDS) or page (a
-- products page filtered by a random category and maxPrice), asked as GraphQL (POST to the
-- URL's path) or, with $BENCH_REST=1, from the baseline app's bare endpoints (GET); or one of
-- the listing shapes of SHAPES below (GraphQL only), a first page of 20 each.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local PRODUCT = '{"query":"query($id: ID!) { product(id: $id) { id sku name description price { amount currency } category tags brand version updatedAt } }",' ..
  '"variables":{"id":"%s"}}'
local PAGE = '{"query":"query($f: ProductFilter) { products(filter: $f, first: 20) { edges { cursor node { id name price { amount currency } category } } pageInfo { hasNextPage endCursor } } }",' ..
  '"variables":{"f":{"category":"%s","maxPrice":"%d.00"}}}'

local LISTING = '{"query":"query($f: ProductFilter, $s: ProductSort) { products(filter: $f, sort: $s, first: 20) { edges { cursor node { id name price { amount currency } category } } pageInfo { hasNextPage endCursor } } }",' ..
  '"variables":{"f":%s,"s":"%s"}}'
local NAME_PARTS = {"mug", "lamp", "oak ", "steel", "tall", "red chair 1"}

-- filter (JSON) and sort of a request of each listing shape
local SHAPES = {
  category_price_range = function(categories)
    local low = math.random(1, 800)
    return string.format('{"category":"category-%02d","minPrice":"%d.00","maxPrice":"%d.00"}',
      math.random(0, categories - 1), low, low + math.random(10, 199)), "PRICE_ASC"
  end,
  tag_newest = function()
    return string.format('{"tag":"tag-%02d"}', math.random(0, 49)), "CREATED_AT_DESC"
  end,
  all_recently_updated = function() return "{}", "UPDATED_AT_DESC" end,
  name_contains = function()
    return string.format('{"nameContains":"%s"}', NAME_PARTS[math.random(#NAME_PARTS)]), "NAME_ASC"
  end,
}

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
  if SHAPES[mode] then
    local filter, sort = SHAPES[mode](categories)
    return wrk.format(nil, nil, nil, string.format(LISTING, filter, sort))
  end
  local category = string.format("category-%02d", math.random(0, categories - 1))
  local max_price = math.random(100, 999)
  if rest then
    return wrk.format("GET", string.format("/products?category=%s&max_price=%d.00", category, max_price))
  end
  return wrk.format(nil, nil, nil, string.format(PAGE, category, max_price))
end
