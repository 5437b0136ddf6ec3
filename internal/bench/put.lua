-- put.lua: a wrk script for grapevine's HTTP API. Every request is a PUT
-- of a key no other request wrote ("w", the thread's number in 2 digits and
-- its request count in 13: 16 bytes) with a 100-byte value, over wrk's
-- keep-alive connections. The script's argument (wrk ... -- FIRST) is where
-- the counts start, so that runs against one peer write keys of their own.
-- Used by compare.sh (make bench-compare).
local threads = 0

function setup(thread)
	thread:set("id", threads)
	threads = threads + 1
end

function init(args)
	n = tonumber(args[1]) or 0
	wrk.method = "PUT"
	wrk.body = string.rep("v", 100)
end

function request()
	n = n + 1
	return wrk.format(nil, string.format("/v1/kv/w%02d%013d", id, n))
end
