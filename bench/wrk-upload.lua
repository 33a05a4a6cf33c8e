-- wrk script: POST /process-image with one JPEG as a multipart upload, and one result line.
--   BENCH_IMAGE  the JPEG to upload (required)
--   BENCH_PATH   request path (default /process-image?pipeline_id=1)
local image_path = assert(os.getenv("BENCH_IMAGE"), "set BENCH_IMAGE")
local file = assert(io.open(image_path, "rb"))
local image = file:read("*a")
file:close()

local boundary = "imgproc-bench-boundary"
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/process-image?pipeline_id=1"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n"
  .. 'Content-Disposition: form-data; name="image_file"; filename="bench.jpg"\r\n'
  .. "Content-Type: image/jpeg\r\n\r\n"
  .. image .. "\r\n--" .. boundary .. "--\r\n"

-- One machine-readable line; scripts parse it.
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d seconds=%.2f rps=%.1f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f non2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
