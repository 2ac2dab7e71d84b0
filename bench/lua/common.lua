-- Shared by the bench's wrk scripts: per-thread seeding, id files, failure counting, and a
-- JSON report of wrk's latency histogram written to $BENCH_REPORT for bench/wrk.py to read.
-- A response is a failure when its status is not 200 or it carries GraphQL "errors".

-- The bench's services require a bearer token; the baseline gets the same header.
if os.getenv("BENCH_TOKEN") then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end

local threads = {}
local next_id = 0
local PERCENTILES = {50, 75, 90, 95, 99, 99.9, 99.99, 100}

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

function seed()
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919 + math.floor(os.clock() * 1e6))
  for _ = 1, 16 do math.random() end
end

function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  return lines
end

function uuid4()
  local r = math.random
  return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
    r(0, 65535), r(0, 65535), r(0, 65535), r(0, 4095), r(32768, 49151),
    r(0, 65535), r(0, 65535), r(0, 65535))
end

failures = 0
first_failure = ""

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failures = failures + 1
    if first_failure == "" then first_failure = status .. " " .. string.sub(body, 1, 300) end
  end
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local failed, sample = 0, ""
  for _, t in ipairs(threads) do
    failed = failed + (t:get("failures") or 0)
    if sample == "" then sample = t:get("first_failure") or "" end
  end
  local e = summary.errors
  local parts = {}
  for _, p in ipairs(PERCENTILES) do
    parts[#parts + 1] = string.format("[%s, %d]", tostring(p), latency:percentile(p))
  end
  local f = assert(io.open(os.getenv("BENCH_REPORT"), "w"))
  f:write(string.format(
    '{"requests": %d, "duration_us": %d, "failed": %d, "failure_sample": %s, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, "percentiles": [%s]}}',
    summary.requests, summary.duration, failed, quote(sample),
    e.connect, e.read, e.write, e.timeout,
    latency.mean, latency.stdev, latency.max, table.concat(parts, ", ")))
  f:close()
end
