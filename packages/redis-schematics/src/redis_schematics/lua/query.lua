-- Objects matching every condition, read in one step; expired ones are swept, never returned.
-- KEYS[1] members zset, KEYS[2] entries hash. ARGV[1] object key prefix, ARGV[2] conditions JSON:
-- {"s": [set keys]} (member of any) or {"z": key, "r": [[min, max], ...]} (score in any range,
-- bounds inclusive, "-inf"/"+inf" open). No condition: every member.
-- Returns {pk1, {field, value, ...}, pk2, {...}, ...}.
local conditions = cjson.decode(ARGV[2])

local function bound(text)
  if text == '-inf' then return -math.huge end
  if text == '+inf' then return math.huge end
  return tonumber(text)
end

local function size(c)
  local n = 0
  if c.s then
    for _, key in ipairs(c.s) do n = n + redis.call('SCARD', key) end
  else
    for _, r in ipairs(c.r) do n = n + redis.call('ZCOUNT', c.z, r[1], r[2]) end
  end
  return n
end

local function members(c)
  local seen, out = {}, {}
  local function add(list)
    for _, pk in ipairs(list) do
      if not seen[pk] then seen[pk] = true; out[#out + 1] = pk end
    end
  end
  if c.s then
    for _, key in ipairs(c.s) do add(redis.call('SMEMBERS', key)) end
  else
    for _, r in ipairs(c.r) do add(redis.call('ZRANGEBYSCORE', c.z, r[1], r[2])) end
  end
  return out
end

local function holds(c, pk)
  if c.s then
    for _, key in ipairs(c.s) do
      if redis.call('SISMEMBER', key, pk) == 1 then return true end
    end
    return false
  end
  local score = redis.call('ZSCORE', c.z, pk)
  if not score then return false end
  score = tonumber(score)
  for _, r in ipairs(c.r) do
    if score >= bound(r[1]) and score <= bound(r[2]) then return true end
  end
  return false
end

local candidates
local base = 0
if #conditions == 0 then
  candidates = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  local smallest
  for i, c in ipairs(conditions) do
    local n = size(c)
    if smallest == nil or n < smallest then smallest, base = n, i end
  end
  candidates = members(conditions[base])
end

local out = {}
for _, pk in ipairs(candidates) do
  local keep = true
  for i, c in ipairs(conditions) do
    if i ~= base and not holds(c, pk) then keep = false; break end
  end
  if keep then
    local fields = redis.call('HGETALL', ARGV[1] .. pk)
    if #fields == 0 then
      forget(KEYS[1], KEYS[2], ARGV[1], pk)
    else
      out[#out + 1] = pk
      out[#out + 1] = fields
    end
  end
end
return out
