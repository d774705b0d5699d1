-- Every request a new variant. Arguments: a path template with {w} and {q},
-- the number of threads, the width range and the quality range, e.g.
--   /originals/photo.jpg?w={w}&q={q}&fm=jpg 2 300 499 75 95
-- Request n (counted over all threads, which interleave) asks for width
-- wlo + n mod widths and quality qlo + (n div widths) mod qualities, so no URL
-- repeats before widths x qualities requests.
local template, step, wlo, widths, qlo, qualities
local n = 0

function init(args)
  template = args[1]
  step = tonumber(args[2])
  wlo = tonumber(args[3])
  widths = tonumber(args[4]) - wlo + 1
  qlo = tonumber(args[5])
  qualities = tonumber(args[6]) - qlo + 1
  n = id
end

function request()
  local w = wlo + n % widths
  local q = qlo + math.floor(n / widths) % qualities
  n = n + step
  local path = template:gsub("{w}", tostring(w))
  path = path:gsub("{q}", tostring(q))
  return wrk.format("GET", path)
end
