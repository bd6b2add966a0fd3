package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local headers = common.headers()
local path = os.getenv("TARGET")
request = function()
  return wrk.format("GET", path, headers)
end
done = common.done
