-- Store one object and its index entries atomically, dropping the entries of its old values.
-- KEYS[1] object hash, KEYS[2] members zset, KEYS[3] entries hash, KEYS[4..] new index keys
-- ARGV[1] pk, ARGV[2] ttl in ms ("0": none), ARGV[3] entries JSON, ARGV[4..] field, value pairs
local pk = ARGV[1]
local ttl = tonumber(ARGV[2])
unindex(KEYS[3], pk)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[2], now_ms() + ttl, pk)
else
  redis.call('ZADD', KEYS[2], '+inf', pk)
end
local entries = cjson.decode(ARGV[3])
for _, entry in ipairs(entries) do
  if entry[1] == 's' then
    redis.call('SADD', entry[2], pk)
  else
    redis.call('ZADD', entry[2], entry[3], pk)
  end
end
if #entries > 0 then
  redis.call('HSET', KEYS[3], pk, ARGV[3])
end
return 1
