-- Store many objects of one class, each with its index entries (a pipeline's batch of SAVEs).
-- KEYS[1] members zset "{P}:members", KEYS[2] entries hash. ARGV in groups of five per object:
-- pk, ttl in ms ("0": none), entries JSON, field names and values each joined by \31.
-- Returns how many objects were stored.
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #':members') .. ':obj:'
local count = 0
for i = 1, #ARGV, 5 do
  local pk = ARGV[i]
  local fields = joined_fields(ARGV[i + 3], ARGV[i + 4])
  save_object(prefix .. pk, KEYS[1], KEYS[2], pk, tonumber(ARGV[i + 1]), ARGV[i + 2], fields)
  count = count + 1
end
return count
