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
