package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
-- Moves deals between open stages. Each thread takes every other deal of the list in turn
-- (a deal comes back only after thousands of others: never two requests on one deal at a
-- time) and always sends a stage other than the deal's current one, so every successful
-- PATCH is a real move that must leave one event in the history.
local common = require("common")
local headers = common.headers({ ["Content-Type"] = "application/merge-patch+json" })
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local deals, current, stages = {}, {}, {}
local i = 0
-- wrk calls request() once on the first thread to check the script, and never sends that
-- request: that call must not count as a move.
local verifying = false

function init(args)
  for _, line in ipairs(common.lines(os.getenv("DEALS"))) do
    local id, stage = line:match("(%S+)%s+(%S+)")
    deals[#deals + 1] = id
    current[#current + 1] = stage
  end
  stages = common.lines(os.getenv("STAGES"))
  i = tid
  verifying = (tid == 0)
end

request = function()
  if verifying then
    verifying = false
    return wrk.format("PATCH", "/api/v1/deals/" .. deals[1], headers, "{}")
  end
  local k = (i % #deals) + 1
  i = i + 2
  local next_stage
  repeat
    next_stage = stages[math.random(#stages)]
  until next_stage ~= current[k]
  current[k] = next_stage
  return wrk.format("PATCH", "/api/v1/deals/" .. deals[k], headers, '{"stage_id":"' .. next_stage .. '"}')
end

done = common.done
