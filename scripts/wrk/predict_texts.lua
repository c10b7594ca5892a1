-- wrk script: POST /api/v1/predict with 64 texts a request (the overload runs in docs/reliability.md),
-- counting answers by status.  wrk -t2 -c64 -d15s -s scripts/wrk/predict_texts.lua http://127.0.0.1:8000
local texts = {}
for i = 1, 64 do
  texts[i] = string.format('"post number %d: kick them all out of the country"', i)
end
wrk.method = "POST"
wrk.path = "/api/v1/predict"
wrk.body = '{"texts": [' .. table.concat(texts, ", ") .. ']}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  retry_after_missing = 0
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 503 and headers["retry-after"] == nil and headers["Retry-After"] == nil then
    retry_after_missing = retry_after_missing + 1
  end
end
function done(summary, latency, requests)
  local total, missing = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
    missing = missing + thread:get("retry_after_missing")
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d: %d\n", status, count))
  end
  io.write(string.format("503 without Retry-After: %d\n", missing))
end
