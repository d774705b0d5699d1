-- Count X-Cache-Status per thread (report.lua sums them), so a run can prove
-- it measured what it claims: all MISS on the cold path, all HIT-STORE on the
-- result-store path. Costs a Lua call per response: not used on the hot path.
miss, hit_memory, hit_store, other = 0, 0, 0, 0

function response(status, headers, body)
  local cache = headers["X-Cache-Status"]
  if status ~= 200 then
    other = other + 1
  elseif cache == "MISS" then
    miss = miss + 1
  elseif cache == "HIT-MEMORY" then
    hit_memory = hit_memory + 1
  elseif cache == "HIT-STORE" then
    hit_store = hit_store + 1
  else
    other = other + 1
  end
end
