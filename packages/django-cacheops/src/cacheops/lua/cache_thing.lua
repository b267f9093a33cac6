-- Store a cached result and register it in the conjunction sets of every table it reads.
-- ARGV: prefix, key, data, dnfs (json {table: [[[column, value], ...], ...]}), timeout,
--       epochs (json [[epoch key, value seen before the database was read], ...])
-- Returns 0 (nothing stored) when an invalidation ran since the read began: its result may be stale.
local prefix = ARGV[1]
local key = ARGV[2]
local data = ARGV[3]
local dnfs = cjson.decode(ARGV[4])
local timeout = tonumber(ARGV[5])
local epochs = cjson.decode(ARGV[6])

for _, pair in ipairs(epochs) do
    local now = redis.call('get', pair[1]) or ''
    if now ~= pair[2] then
        return 0
    end
end

local full_key = prefix .. key
redis.call('setex', full_key, timeout, data)

for tbl, conjs in pairs(dnfs) do
    for _, conj in ipairs(conjs) do
        local columns, parts = {}, {}
        for _, cv in ipairs(conj) do
            columns[#columns + 1] = cv[1]
            parts[#parts + 1] = cv[1] .. '=' .. cv[2]
        end
        redis.call('sadd', prefix .. 'schemes:' .. tbl, table.concat(columns, ','))
        local conj_key = prefix .. 'conj:' .. tbl .. ':' .. table.concat(parts, '&')
        redis.call('sadd', conj_key, full_key)
        -- a conjunction set outlives the entries it points to (with a margin, so it is not
        -- extended on every store)
        if redis.call('ttl', conj_key) < timeout then
            redis.call('expire', conj_key, timeout * 2 + 10)
        end
    end
end
return 1
