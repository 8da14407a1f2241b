-- POST /api/v1/trials: every request a new deployment and a new address (each on its own
-- domain), so every request is granted: the measurement is of granting, not refusing.
package.path = os.getenv("BENCH_DIR") .. "/?.lua;" .. package.path
local report = require("wrk-report")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("t%d-%d", threads, os.time()))
end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  counter = counter + 1
  local id = prefix .. "-" .. counter
  local body = '{"email":"dev@' .. id .. '.example","first_name":"Ada","last_name":"L",' ..
    '"company":"Bench","country":"GB","developers":"11-50","deployment_id":"dep-' .. id .. '",' ..
    '"product_version":"2.16.0"}'
  return wrk.format(nil, nil, nil, body)
end
done = report.done
