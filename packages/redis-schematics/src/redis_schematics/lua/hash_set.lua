-- Hash layer write with expiry: set the object's field and renew the hash's TTL in one step.
-- KEYS[1] class hash; ARGV[1] field, ARGV[2] serialized object, ARGV[3] milliseconds to live.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
