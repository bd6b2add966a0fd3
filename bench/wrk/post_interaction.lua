package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local ids = common.lines(os.getenv("IDS"))
local channels = common.lines(os.getenv("CHANNELS"))
local headers = common.headers({ ["Content-Type"] = "application/json" })
local kinds = { "message", "call", "note", "support" }
math.randomseed(os.time())
request = function()
  local body = string.format(
    '{"customer_id":"%s","channel_id":"%s","direction":"inbound","kind":"%s","subject":"Benchmark","body":"Hello from wrk"}',
    ids[math.random(#ids)], channels[math.random(#channels)], kinds[math.random(#kinds)])
  return wrk.format("POST", "/api/v1/interactions", headers, body)
end
done = common.done
