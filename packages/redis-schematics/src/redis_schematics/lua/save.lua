-- Store one object and its index entries atomically.
-- KEYS[1] object hash "{P}:obj:<pk>", KEYS[2] members zset "{P}:members", KEYS[3] entries hash.
-- ARGV[1] ttl in ms ("0": none), ARGV[2] entries JSON (the index keys live in it, all under the
-- same hash tag), then either ARGV[3] field names and ARGV[4] values, each joined by \31, or
-- ARGV[3] "" and ARGV[4..] field, value pairs.
local pk = string.sub(KEYS[1], #KEYS[2] - #':members' + #':obj:' + 1)
local fields
if ARGV[3] == '' then
  fields = {}
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
else
  fields = joined_fields(ARGV[3], ARGV[4])
end
save_object(KEYS[1], KEYS[2], KEYS[3], pk, tonumber(ARGV[1]), ARGV[2], fields)
return 1
