-- Announces learned vectors on a kb's vector feed (kato-redis, RedisWriter::announce_vectors).
--
-- KEYS: 1 index:vectors:seq  2 index:vectors:feed (under the kb's prefix, one slot)
-- ARGV: 1 the feed's cap, then the vector names, in learn order
-- Each name gets the next number and an entry {s = number, n = name}, in one atomic step, so
-- a reader that sees a gap in the numbers knows the cap trimmed entries it had not read.
local cap = tonumber(ARGV[1])
for i = 2, #ARGV do
  local number = redis.call('INCR', KEYS[1])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', cap, '*', 's', number, 'n', ARGV[i])
end
return #ARGV - 1
