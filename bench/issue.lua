-- POST /api/v1/licenses: every request issues a new license (no Idempotency-Key).
package.path = os.getenv("BENCH_DIR") .. "/?.lua;" .. package.path
local report = require("wrk-report")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"account_id":"' .. os.getenv("ACCOUNT") .. '","email":"bench@example.com",' ..
  '"feature_set":"enterprise","user_limit":25,"starts_at":"2026-01-01T00:00:00Z",' ..
  '"expires_at":"2027-01-01T00:00:00Z","grace_days":7}'
done = report.done
