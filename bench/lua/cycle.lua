-- Cycle over a fixed list of paths (the arguments); the threads start at
-- different places in it.
local requests = {}
local i = 0

function init(args)
  for _, path in ipairs(args) do
    table.insert(requests, wrk.format("GET", path))
  end
  i = id * math.floor(#requests / 2)
end

function request()
  i = i % #requests + 1
  return requests[i]
end
