-- bench/http/post.lua: wrk script that POSTs one fixed JSON body (the file
-- named by $BENCH_BODY) and prints one machine-readable `result` line:
-- requests/s, p50/p99 latency and the count of non-2xx answers.

local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY unset"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- Each thread's Lua state is its own: done() reads their counters through these.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- wrk itself counts answers >= 400 (summary.errors.status). BENCH_STRICT=1
-- also counts 1xx/3xx through a response() hook, which costs wrk about 12%
-- of its throughput on 2 shared cores, so it is off by default.
non2xx = 0
strict = os.getenv("BENCH_STRICT") == "1"

if strict then
    function response(status, headers, body)
        if status < 200 or status > 299 then
            non2xx = non2xx + 1
        end
    end
end

function done(summary, latency, requests)
    local bad = summary.errors.status
    if strict then
        bad = 0
        for _, t in ipairs(threads) do
            bad = bad + t:get("non2xx")
        end
    end
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "result target=%s requests=%d seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
            .. "non2xx=%d status_check=%s connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
        os.getenv("BENCH_TARGET") or "?", summary.requests, secs, summary.requests / secs,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        bad, strict and "exact" or "ge400", e.connect, e.read, e.write, e.timeout))
end
