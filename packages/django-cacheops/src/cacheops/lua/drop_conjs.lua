-- Drop the conjunction sets given in ARGV and every cache key they list.
local deleted = 0
for _, conj_key in ipairs(ARGV) do
    local keys = redis.call('smembers', conj_key)
    for i = 1, #keys, 4000 do
        deleted = deleted + redis.call('del', unpack(keys, i, math.min(i + 3999, #keys)))
    end
    redis.call('del', conj_key)
end
return deleted
