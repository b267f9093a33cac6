-- Store one object and its index entries atomically; every argument is checked before the first
-- write, so a bad one changes nothing.
-- KEYS[1] object hash "{P}:obj:<pk>", KEYS[2] members zset "{P}:members", KEYS[3] entries hash.
-- ARGV[1] ttl in ms ("0": none), ARGV[2] entries JSON (the index keys live in it, all under the
-- same hash tag), then either ARGV[3] field names and ARGV[4] values, each joined by \31, or
-- ARGV[3] "" and ARGV[4..] field, value pairs.
local pk = string.sub(KEYS[1], #KEYS[2] - #':members' + #':obj:' + 1)
local ttl, entries = check_object(pk, ARGV[1], ARGV[2])
if not ttl then
  return redis.error_reply(entries)
end
local fields
if ARGV[3] == '' then
  fields = {}
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
else
  fields = joined_fields(ARGV[3], ARGV[4])
end
if fields == nil or #fields == 0 or #fields % 2 ~= 0 then
  return redis.error_reply('redis-schematics: object ' .. pk .. ': fields and values do not pair up')
end
save_object(KEYS[1], KEYS[2], KEYS[3], pk, ttl, ARGV[2], entries, fields)
return 1
