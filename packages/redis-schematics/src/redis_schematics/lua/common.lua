-- Shared by every indexed-layer script. The "entries" hash maps a pk to the JSON list of index
-- entries the object is in: {"s", set_key} or {"z", sorted_set_key, score}.
local function unindex(entries_key, pk)
  local old = redis.call('HGET', entries_key, pk)
  if old then
    for _, entry in ipairs(cjson.decode(old)) do
      if entry[1] == 's' then
        redis.call('SREM', entry[2], pk)
      else
        redis.call('ZREM', entry[2], pk)
      end
    end
    redis.call('HDEL', entries_key, pk)
  end
end

local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end

-- Forget an object: its index entries, its membership and its hash. Returns 1 if the hash existed.
local function forget(members_key, entries_key, object_prefix, pk)
  unindex(entries_key, pk)
  redis.call('ZREM', members_key, pk)
  return redis.call('DEL', object_prefix .. pk)
end

-- Split text on the \31 control character (JSON text never holds it raw).
local function split(text)
  local out, start = {}, 1
  while true do
    local stop = string.find(text, '\31', start, true)
    if not stop then
      out[#out + 1] = string.sub(text, start)
      return out
    end
    out[#out + 1] = string.sub(text, start, stop - 1)
    start = stop + 1
  end
end

-- {name1, value1, name2, ...} from field names and values each joined by \31; nil when the
-- counts differ.
local function joined_fields(names, values)
  local fields, n, v = {}, split(names), split(values)
  if #n ~= #v then
    return nil
  end
  for i = 1, #n do
    fields[#fields + 1] = n[i]
    fields[#fields + 1] = v[i]
  end
  return fields
end

-- Check one object's arguments before anything is written: ttl_text a whole number of ms (0:
-- none), entries_json the JSON list of index entries, each {"s", set_key} or {"z", zset_key,
-- score} with a finite score. Returns ttl, entries; or nil and the reason.
local function check_object(pk, ttl_text, entries_json)
  local ttl = tonumber(ttl_text)
  if ttl == nil or ttl ~= ttl or ttl < 0 or ttl == math.huge or ttl ~= math.floor(ttl) then
    return nil, 'redis-schematics: object ' .. pk .. ': ttl ' .. tostring(ttl_text) .. ' is not a whole number of ms'
  end
  local ok, entries = pcall(cjson.decode, entries_json)
  if not ok or type(entries) ~= 'table' then
    return nil, 'redis-schematics: object ' .. pk .. ': index entries are not a JSON list'
  end
  for _, entry in ipairs(entries) do
    if entry[1] == 'z' then
      local score = tonumber(entry[3])
      if type(entry[2]) ~= 'string' or score == nil or score ~= score or score == math.huge or score == -math.huge then
        return nil, 'redis-schematics: object ' .. pk .. ': score ' .. tostring(entry[3]) .. ' for '
          .. tostring(entry[2]) .. ' is not a finite number'
      end
    elseif entry[1] ~= 's' or type(entry[2]) ~= 'string' then
      return nil, 'redis-schematics: object ' .. pk .. ': bad index entry in ' .. entries_json
    end
  end
  return ttl, entries
end

-- Store one object (a hash of field, value pairs) and its index entries, dropping the entries
-- of its old values. ttl and entries as checked by check_object; entries_json their JSON text.
local function save_object(object_key, members_key, entries_key, pk, ttl, entries_json, entries, fields)
  local old = redis.call('HGET', entries_key, pk)
  -- Same entries as stored (same indexed values): the index already holds them, nothing to redo.
  local same = old == entries_json
  if old and not same then
    unindex(entries_key, pk)
  end
  redis.call('DEL', object_key)
  redis.call('HSET', object_key, unpack(fields))
  if ttl > 0 then
    redis.call('PEXPIRE', object_key, ttl)
    redis.call('ZADD', members_key, now_ms() + ttl, pk)
  else
    redis.call('ZADD', members_key, '+inf', pk)
  end
  if not same then
    for _, entry in ipairs(entries) do
      if entry[1] == 's' then
        redis.call('SADD', entry[2], pk)
      else
        redis.call('ZADD', entry[2], entry[3], pk)
      end
    end
    if #entries > 0 then
      redis.call('HSET', entries_key, pk, entries_json)
    end
  end
end
