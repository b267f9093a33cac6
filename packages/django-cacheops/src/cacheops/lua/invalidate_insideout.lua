-- Insideout mode: drop the stamps of every conjunction a changed row matches (O(conditions)).
-- ARGV: prefix, table, rows (json [{column: value}, ...])[, 'quiet']. Returns the number of stamps dropped.
local prefix = ARGV[1]
local tbl = ARGV[2]
local rows = cjson.decode(ARGV[3])

redis.call('incr', prefix .. 'epoch:' .. tbl)
-- heard by the fast-mode listeners of every process (cacheops/memory.py); on a cluster the
-- client publishes once the script has run in every shard (ARGV[4] is then 'quiet')
if ARGV[4] ~= 'quiet' then
    redis.call('publish', 'cacheops:invalidated', tbl)
end

local schemes = redis.call('smembers', prefix .. 'schemes:' .. tbl)
local conj_keys = {}
for _, row in ipairs(rows) do
    for _, scheme in ipairs(schemes) do
        local parts, complete = {}, true
        for column in string.gmatch(scheme, '[^,]+') do
            local value = row[column]
            if value == nil then
                complete = false
                break
            end
            parts[#parts + 1] = column .. '=' .. value
        end
        if complete then
            conj_keys[#conj_keys + 1] = prefix .. 'conj:' .. tbl .. ':' .. table.concat(parts, '&')
        end
    end
end
local dropped = 0
for i = 1, #conj_keys, 4000 do
    dropped = dropped + redis.call('del', unpack(conj_keys, i, math.min(i + 3999, #conj_keys)))
end
return dropped
