-- Delete objects and their index entries. KEYS[1] members zset, KEYS[2] entries hash.
-- ARGV[1] object key prefix, ARGV[2..] pks; with no pk, every member. Returns how many existed.
local pks = {}
if #ARGV > 1 then
  for i = 2, #ARGV do pks[#pks + 1] = ARGV[i] end
else
  pks = redis.call('ZRANGE', KEYS[1], 0, -1)
end
local removed = 0
for _, pk in ipairs(pks) do
  removed = removed + forget(KEYS[1], KEYS[2], ARGV[1], pk)
end
return removed
