-- Insideout mode: read a result, returning it only while every conjunction stamp it saw is unchanged.
-- ARGV: prefix, key[, epoch keys...]. Without epoch keys returns the data or false; with them
-- returns {data or false, epoch values ('' when unset)...} so a miss needs no second round trip.
local full_key = ARGV[1] .. ARGV[2]

local function reply(data)
    if #ARGV == 2 then
        return data
    end
    local out = {data}
    for i = 3, #ARGV do
        out[#out + 1] = redis.call('get', ARGV[i]) or ''
    end
    return out
end

local value = redis.call('get', full_key)
if not value then
    return reply(false)
end
local newline = string.find(value, '\n', 1, true)
local stamps = cjson.decode(string.sub(value, 1, newline - 1))
for _, pair in ipairs(stamps) do
    if redis.call('get', pair[1]) ~= pair[2] then
        redis.call('del', full_key)
        return reply(false)
    end
end
return reply(string.sub(value, newline + 1))
