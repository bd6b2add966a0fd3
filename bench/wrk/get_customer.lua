package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local ids = common.lines(os.getenv("IDS"))
local headers = common.headers()
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/customers/" .. ids[math.random(#ids)], headers)
end
done = common.done
