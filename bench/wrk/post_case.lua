package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local ids = common.lines(os.getenv("IDS"))
local channels = common.lines(os.getenv("CHANNELS"))
local policy = os.getenv("POLICY")
local headers = common.headers({ ["Content-Type"] = "application/json" })
local priorities = { "low", "normal", "high", "urgent" }
math.randomseed(os.time())
request = function()
  local body = string.format(
    '{"customer_id":"%s","channel_id":"%s","subject":"Benchmark case","priority":"%s","tags":["bench"],"sla_policy_id":"%s"}',
    ids[math.random(#ids)], channels[math.random(#channels)], priorities[math.random(#priorities)], policy)
  return wrk.format("POST", "/api/v1/cases", headers, body)
end
done = common.done
