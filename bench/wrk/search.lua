package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local prefixes = common.lines(os.getenv("PREFIXES"))
local headers = common.headers()
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/customers?limit=50&q=" .. prefixes[math.random(#prefixes)], headers)
end
done = common.done
