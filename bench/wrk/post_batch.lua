package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local headers = common.headers({ ["Content-Type"] = "application/json" })
local f = io.open(os.getenv("BATCH"), "r")
local body = f:read("*a")
f:close()
request = function()
  return wrk.format("POST", "/api/v1/interactions/batch", headers, body)
end
done = common.done
