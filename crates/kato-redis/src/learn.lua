-- One learn of one pattern, applied atomically (kato-redis, RedisWriter::apply_learns).
--
-- KEYS: 1 frequency:<name>  2 emotives:<name>  3 metadata:<name>  4 symbols:freq
--       5 symbols:pmf  6 global:total_symbols_in_patterns_frequencies
--       7 global:total_pattern_frequencies  8 global:total_unique_patterns
--       then per distinct symbol i: 8+2i-1 symbol_to_patterns:<s_i>, 8+2i affinity:<s_i>
-- ARGV: 1 name  2 length  3 persistence  4 #symbols  5 #emotives  6 #metadata  7 #affinity
--       then #symbols pairs (symbol, count), #emotives JSON objects,
--       #metadata hash fields, #affinity pairs (emotive, mean over this learn)
-- Returns {1 if the pattern is new else 0, the new frequency}.
local name = ARGV[1]
local length = tonumber(ARGV[2])
local persistence = tonumber(ARGV[3])
local n_symbols = tonumber(ARGV[4])
local n_emotives = tonumber(ARGV[5])
local n_metadata = tonumber(ARGV[6])
local n_affinity = tonumber(ARGV[7])

local is_new = redis.call('SET', KEYS[1], '1', 'NX')
local frequency = 1
if not is_new then
  frequency = redis.call('INCR', KEYS[1])
end

local symbols_at = 8
local emotives_at = symbols_at + 2 * n_symbols
local metadata_at = emotives_at + n_emotives
local affinity_at = metadata_at + n_metadata

if n_emotives > 0 then
  for i = 0, n_emotives - 1 do
    redis.call('RPUSH', KEYS[2], ARGV[emotives_at + i])
  end
  redis.call('LTRIM', KEYS[2], -persistence, -1)
end

for i = 0, n_metadata - 1 do
  redis.call('HSET', KEYS[3], ARGV[metadata_at + i], '1')
end

for i = 1, n_symbols do
  local symbol = ARGV[symbols_at + 2 * i - 2]
  local count = ARGV[symbols_at + 2 * i - 1]
  redis.call('HINCRBY', KEYS[4], symbol, count)
  redis.call('SADD', KEYS[8 + 2 * i - 1], name)
  if is_new then
    redis.call('HINCRBY', KEYS[5], symbol, 1)
  end
  for j = 0, n_affinity - 1 do
    redis.call('HINCRBYFLOAT', KEYS[8 + 2 * i], ARGV[affinity_at + 2 * j], ARGV[affinity_at + 2 * j + 1])
  end
end

redis.call('INCRBY', KEYS[6], length)
if is_new then
  redis.call('INCR', KEYS[7])
  redis.call('INCR', KEYS[8])
end
return {is_new and 1 or 0, frequency}
