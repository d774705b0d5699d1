-- Shared by every scenario: number the threads, and at the end print one JSON
-- line (prefixed WRK_JSON) with the counts, latency percentiles (microseconds),
-- errors and, where tally.lua counted them, the X-Cache-Status values.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function tallies()
  local sums = { miss = 0, hit_memory = 0, hit_store = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(sums) do
      sums[name] = sums[name] + (thread:get(name) or 0)
    end
  end
  return sums
end

function done(summary, latency, requests)
  local e = summary.errors
  local c = tallies()
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "max_us": %.1f, "mean_us": %.1f, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"cache": {"MISS": %d, "HIT-MEMORY": %d, "HIT-STORE": %d, "other": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout,
    c.miss, c.hit_memory, c.hit_store, c.other))
end
