-- Store many objects of one class, each with its index entries (a pipeline's batch of SAVEs).
-- All or nothing: every object's arguments are checked before the first write.
-- KEYS[1] members zset "{P}:members", KEYS[2] entries hash. ARGV in groups of five per object:
-- pk, ttl in ms ("0": none), entries JSON, field names and values each joined by \31.
-- Returns how many objects were stored.
if #ARGV % 5 ~= 0 then
  return redis.error_reply('redis-schematics: arguments do not come in groups of five')
end
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #':members') .. ':obj:'
local checked = {}
for i = 1, #ARGV, 5 do
  local pk = ARGV[i]
  local ttl, entries = check_object(pk, ARGV[i + 1], ARGV[i + 2])
  if not ttl then
    return redis.error_reply(entries)
  end
  local fields = joined_fields(ARGV[i + 3], ARGV[i + 4])
  if fields == nil then
    return redis.error_reply('redis-schematics: object ' .. pk .. ': fields and values do not pair up')
  end
  checked[#checked + 1] = {pk, ttl, entries, fields}
end
for j, item in ipairs(checked) do
  save_object(prefix .. item[1], KEYS[1], KEYS[2], item[1], item[2], ARGV[(j - 1) * 5 + 3], item[3], item[4])
end
return #checked
