-- Insideout mode: read a result, returning it only while every conjunction stamp it saw is unchanged.
-- ARGV: prefix, key. Returns the data or false.
local full_key = ARGV[1] .. ARGV[2]
local value = redis.call('get', full_key)
if not value then
    return false
end
local newline = string.find(value, '\n', 1, true)
local stamps = cjson.decode(string.sub(value, 1, newline - 1))
for _, pair in ipairs(stamps) do
    if redis.call('get', pair[1]) ~= pair[2] then
        redis.call('del', full_key)
        return false
    end
end
return string.sub(value, newline + 1)
