-- POST /api/v1/checkins (public, no token): each request checks in one of DEPLOYMENTS
-- deployments per wrk thread (ids bench-<thread>-<n>, taken in turn from a counter, so the
-- first pass inserts each deployment and later passes update it), reporting LICENSE (a real
-- license, so the server looks it up and records where it was seen), a varying user count
-- and a fresh nonce.
package.path = os.getenv("BENCH_DIR") .. "/?.lua;" .. package.path
local report = require("wrk-report")

local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local license = os.getenv("LICENSE")
local deployments = tonumber(os.getenv("DEPLOYMENTS") or "5000")
local headers = { ["Content-Type"] = "application/json" }
local n = 0

function request()
  n = n + 1
  local body = string.format(
    '{"deployment_id":"bench-%d-%d","license_ids":["%s"],"active_users":%d,' ..
    '"product_version":"2.16.0","nonce":"n-%d-%d"}',
    tid, n % deployments, license, n % 40, tid, n)
  return wrk.format("POST", "/api/v1/checkins", headers, body)
end

done = report.done
