-- The resident indexes' view of a kb's feed, read atomically (kato-redis, RedisWriter).
--
-- KEYS: 1 index:generation  2 index:seq  3 index:feed (all under the kb's prefix, one slot)
-- ARGV: 1 a generation to set when the kb has none ('' sets nothing)
--       2 the feed entry id after which to read ('' reads only the newest entry's id)
--       3 the most entries to return
-- Returns {generation or '', announcements counted, entries}, each entry {id, {field, value, ...}}.
if ARGV[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
local generation = redis.call('GET', KEYS[1]) or ''
local announced = redis.call('GET', KEYS[2]) or '0'
local entries
if ARGV[2] == '' then
  entries = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
else
  entries = redis.call('XRANGE', KEYS[3], '(' .. ARGV[2], '+', 'COUNT', tonumber(ARGV[3]))
end
return {generation, announced, entries}
