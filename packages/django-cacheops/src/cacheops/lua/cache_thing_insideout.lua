-- Insideout mode: store a result together with the stamps of the conjunctions it depends on.
-- ARGV: prefix, key, data, dnfs (as in cache_thing.lua), timeout, epochs, token (a fresh random stamp)
-- The value stored is "<json [[conj key, stamp], ...]>\n<data>"; a read checks the stamps.
local prefix = ARGV[1]
local key = ARGV[2]
local data = ARGV[3]
local dnfs = cjson.decode(ARGV[4])
local timeout = tonumber(ARGV[5])
local epochs = cjson.decode(ARGV[6])
local token = ARGV[7]

for _, pair in ipairs(epochs) do
    local now = redis.call('get', pair[1]) or ''
    if now ~= pair[2] then
        return 0
    end
end

local stamps = {}
for tbl, conjs in pairs(dnfs) do
    for _, conj in ipairs(conjs) do
        local columns, parts = {}, {}
        for _, cv in ipairs(conj) do
            columns[#columns + 1] = cv[1]
            parts[#parts + 1] = cv[1] .. '=' .. cv[2]
        end
        redis.call('sadd', prefix .. 'schemes:' .. tbl, table.concat(columns, ','))
        local conj_key = prefix .. 'conj:' .. tbl .. ':' .. table.concat(parts, '&')
        local stamp = redis.call('get', conj_key)
        if not stamp then
            stamp = token
            redis.call('setex', conj_key, timeout * 2 + 10, stamp)
        elseif redis.call('ttl', conj_key) < timeout then
            redis.call('expire', conj_key, timeout * 2 + 10)
        end
        stamps[#stamps + 1] = {conj_key, stamp}
    end
end

redis.call('setex', prefix .. key, timeout, cjson.encode(stamps) .. '\n' .. data)
return 1
