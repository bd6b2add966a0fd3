-- Shared by the scenarios: auth header, a random pick from a file of lines, and one result
-- line per run appended to $RESULTS (name, req/s, p50 ms, p99 ms, non-2xx, socket errors).
local common = {}

function common.lines(path)
  local t = {}
  for line in io.lines(path) do
    if line ~= "" then t[#t + 1] = line end
  end
  return t
end

function common.headers(extra)
  local h = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Accept"] = "application/json" }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

function common.done(summary, latency, requests)
  local f = io.open(os.getenv("RESULTS"), "a")
  local seconds = summary.duration / 1e6
  local e = summary.errors
  f:write(string.format("%s\t%.0f\t%.2f\t%.2f\t%d\t%d\n", os.getenv("SCENARIO"), summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
  f:close()
end

return common
