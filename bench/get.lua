-- GET with the admin token (listing), or without it (health).
package.path = os.getenv("BENCH_DIR") .. "/?.lua;" .. package.path
local report = require("wrk-report")
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
done = report.done
