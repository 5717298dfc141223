-- wrk: POST the file named by the environment variable BODY with content type CT.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CT") or "application/json"
