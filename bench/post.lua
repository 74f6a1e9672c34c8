-- bench/post.lua: wrk script of bench/http and bench/intake. POSTs the JSON
-- body in $BENCH_BODY, either as is (BENCH_MODE=repeat, the default) or, for
-- an Alertmanager body, with a fingerprint new on every request (BENCH_MODE=new:
-- one new incident each); with the bearer token in $BENCH_TOKEN and the
-- User-Agent in $BENCH_USER_AGENT if set. Prints one machine-readable `result`
-- line: requests/s, p50/p99 latency and the count of non-2xx answers.

local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY unset"), "rb"))
local body = f:read("*a")
f:close()
local mode = os.getenv("BENCH_MODE") or "repeat"
assert(mode == "repeat" or mode == "new", "BENCH_MODE must be repeat or new")

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local agent = os.getenv("BENCH_USER_AGENT")
if agent and agent ~= "" then
    wrk.headers["User-Agent"] = agent
end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end

-- Each thread's Lua state is its own: done() reads their counters through these.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

if mode == "new" then
    -- The body's one fingerprint (16 hex digits, as Alertmanager sends) is
    -- replaced by thread id + counter: distinct across threads and requests.
    local fp = '"fingerprint":"c0ffee0000000001"'
    local at = assert(body:find(fp, 1, true), "no fingerprint c0ffee0000000001 in the body")
    local head = body:sub(1, at - 1) .. '"fingerprint":"'
    local tail = body:sub(at + #fp - 1)
    local n = 0

    function request()
        n = n + 1
        return wrk.format(nil, nil, nil, head .. string.format("%02x%014x", tid, n) .. tail)
    end
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
        "result target=%s mode=%s requests=%d seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
            .. "non2xx=%d status_check=%s connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
        os.getenv("BENCH_TARGET") or "?", mode, summary.requests, secs, summary.requests / secs,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        bad, strict and "exact" or "ge400", e.connect, e.read, e.write, e.timeout))
end
