-- Read one object of the indexed layer as a single JSON object text, or nil when it is not stored.
-- KEYS[1] object hash, whose values are JSON texts (the default serializer): they are joined as
-- they are, never decoded here, so numbers keep every digit.
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return false end
local parts = {}
for i = 1, #flat, 2 do
  parts[#parts + 1] = cjson.encode(flat[i]) .. ':' .. flat[i + 1]
end
return '{' .. table.concat(parts, ',') .. '}'
