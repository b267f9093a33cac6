-- Remove the index entries of objects whose hash has expired. KEYS[1] members, KEYS[2] entries.
-- ARGV[1] object key prefix. Returns how many objects were swept.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms())
local swept = 0
for _, pk in ipairs(due) do
  if redis.call('EXISTS', ARGV[1] .. pk) == 0 then
    forget(KEYS[1], KEYS[2], ARGV[1], pk)
    swept = swept + 1
  end
end
return swept
