-- Drop every cached result a changed row may affect, and bump the table's epoch.
-- ARGV: prefix, table, rows (json [{column: value}, ...]: old and new values)[, 'quiet']
-- Returns the number of cache keys deleted.
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
local seen, conj_keys = {}, {}
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
            local conj_key = prefix .. 'conj:' .. tbl .. ':' .. table.concat(parts, '&')
            if not seen[conj_key] then
                seen[conj_key] = true
                conj_keys[#conj_keys + 1] = conj_key
            end
        end
    end
end

local deleted = 0
for _, conj_key in ipairs(conj_keys) do
    local keys = redis.call('smembers', conj_key)
    for i = 1, #keys, 4000 do
        deleted = deleted + redis.call('del', unpack(keys, i, math.min(i + 3999, #keys)))
    end
    redis.call('del', conj_key)
end
return deleted
