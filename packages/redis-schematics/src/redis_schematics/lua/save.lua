-- Store one object and its index entries atomically, dropping the entries of its old values.
-- KEYS[1] object hash "{P}:obj:<pk>", KEYS[2] members zset "{P}:members", KEYS[3] entries hash.
-- ARGV[1] ttl in ms ("0": none), ARGV[2] entries JSON (the index keys live in it, all under the
-- same hash tag), then either ARGV[3] field names and ARGV[4] values, each joined by \31 (used
-- with JSON values, which never hold a raw control character), or ARGV[3] "" and ARGV[4..]
-- field, value pairs. Few arguments keep the client's per-object work small.
local pk = string.sub(KEYS[1], #KEYS[2] - #':members' + #':obj:' + 1)
local ttl = tonumber(ARGV[1])

local function split(text)
  local out, start = {}, 1
  while true do
    local stop = string.find(text, '\31', start, true)
    if not stop then
      out[#out + 1] = string.sub(text, start)
      return out
    end
    out[#out + 1] = string.sub(text, start, stop - 1)
    start = stop + 1
  end
end

local fields = {}
if ARGV[3] == '' then
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
else
  local names, values = split(ARGV[3]), split(ARGV[4])
  for i = 1, #names do
    fields[#fields + 1] = names[i]
    fields[#fields + 1] = values[i]
  end
end

local old = redis.call('HGET', KEYS[3], pk)
-- Same entries as stored (same indexed values): the index already holds them, nothing to redo.
local same = old == ARGV[2]
if old and not same then
  unindex(KEYS[3], pk)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[2], now_ms() + ttl, pk)
else
  redis.call('ZADD', KEYS[2], '+inf', pk)
end
if not same then
  local entries = cjson.decode(ARGV[2])
  for _, entry in ipairs(entries) do
    if entry[1] == 's' then
      redis.call('SADD', entry[2], pk)
    else
      redis.call('ZADD', entry[2], entry[3], pk)
    end
  end
  if #entries > 0 then
    redis.call('HSET', KEYS[3], pk, ARGV[2])
  end
end
return 1
