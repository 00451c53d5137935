-- A run of learns of one kb, applied in order and atomically (kato-redis, RedisWriter).
--
-- KEYS[1]: the kb's global:total_unique_patterns key. It routes the call to the kb's node; every
-- key the script touches starts with the same `kato:{<kb_id>}:` prefix, so all of them share
-- its cluster slot.
-- ARGV: 1 the kb's key prefix  2 the number of learns, then per learn:
--   name, length, persistence, #symbols, #emotives, #metadata, #affinity,
--   #symbols pairs (symbol, count in the pattern), #emotives JSON objects,
--   #metadata hash fields, #affinity pairs (emotive, mean over this learn)
-- Returns, per learn, {1 if it created the pattern else 0, the pattern's new frequency}.
--
-- Each pattern a learn creates is announced on the kb's feed for the resident indexes, in the
-- same atomic step that makes it visible here: `index:seq` counts the announcements and the
-- capped stream `index:feed` holds the newest (about FEED_CAP) of them as {s = number, n = name}.
-- An index that missed entries the cap trimmed sees a gap in the numbers and rebuilds.
--
-- Unlike the reference there is no `symbol_to_patterns` set per symbol: the resident indexes'
-- postings hold the same relation, and keeping a copy here cost a set member per (symbol,
-- pattern).
--
-- Integer statistics (symbol frequency and member counts, global counters) are
-- summed over the run and written once per symbol: integer sums do not depend on grouping, so
-- the result equals learning one at a time. Float affinity sums are added per learn, in order,
-- because float addition does depend on grouping.
local FEED_CAP = 100000
local prefix = ARGV[1]
local learns = tonumber(ARGV[2])
local at = 3

local symbol_order = {}
local frequency_add = {}
local member_count_add = {}
local total_length = 0
local new_patterns = 0
local results = {}

for l = 1, learns do
  local name = ARGV[at]
  local length = tonumber(ARGV[at + 1])
  local persistence = tonumber(ARGV[at + 2])
  local n_symbols = tonumber(ARGV[at + 3])
  local n_emotives = tonumber(ARGV[at + 4])
  local n_metadata = tonumber(ARGV[at + 5])
  local n_affinity = tonumber(ARGV[at + 6])
  local symbols_at = at + 7
  local emotives_at = symbols_at + 2 * n_symbols
  local metadata_at = emotives_at + n_emotives
  local affinity_at = metadata_at + n_metadata
  at = affinity_at + 2 * n_affinity

  local frequency_key = prefix .. 'frequency:' .. name
  local is_new = redis.call('SET', frequency_key, '1', 'NX')
  local frequency = 1
  if not is_new then
    frequency = redis.call('INCR', frequency_key)
  end

  if n_emotives > 0 then
    local emotives_key = prefix .. 'emotives:' .. name
    for i = 0, n_emotives - 1 do
      redis.call('RPUSH', emotives_key, ARGV[emotives_at + i])
    end
    redis.call('LTRIM', emotives_key, -persistence, -1)
  end

  if n_metadata > 0 then
    local metadata_key = prefix .. 'metadata:' .. name
    for i = 0, n_metadata - 1 do
      redis.call('HSET', metadata_key, ARGV[metadata_at + i], '1')
    end
  end

  for i = 0, n_symbols - 1 do
    local symbol = ARGV[symbols_at + 2 * i]
    local count = tonumber(ARGV[symbols_at + 2 * i + 1])
    if frequency_add[symbol] == nil then
      symbol_order[#symbol_order + 1] = symbol
      frequency_add[symbol] = 0
      member_count_add[symbol] = 0
    end
    frequency_add[symbol] = frequency_add[symbol] + count
    if is_new then
      member_count_add[symbol] = member_count_add[symbol] + 1
    end
    if n_affinity > 0 then
      local affinity_key = prefix .. 'affinity:' .. symbol
      for j = 0, n_affinity - 1 do
        redis.call('HINCRBYFLOAT', affinity_key, ARGV[affinity_at + 2 * j], ARGV[affinity_at + 2 * j + 1])
      end
    end
  end

  total_length = total_length + length
  if is_new then
    new_patterns = new_patterns + 1
    local number = redis.call('INCR', prefix .. 'index:seq')
    redis.call('XADD', prefix .. 'index:feed', 'MAXLEN', '~', FEED_CAP, '*', 's', number, 'n', name)
  end
  results[l] = {is_new and 1 or 0, frequency}
end

local frequencies_key = prefix .. 'symbols:freq'
local member_counts_key = prefix .. 'symbols:pmf'
for _, symbol in ipairs(symbol_order) do
  redis.call('HINCRBY', frequencies_key, symbol, frequency_add[symbol])
  if member_count_add[symbol] > 0 then
    redis.call('HINCRBY', member_counts_key, symbol, member_count_add[symbol])
  end
end

redis.call('INCRBY', prefix .. 'global:total_symbols_in_patterns_frequencies', total_length)
if new_patterns > 0 then
  redis.call('INCRBY', prefix .. 'global:total_pattern_frequencies', new_patterns)
  redis.call('INCRBY', KEYS[1], new_patterns)
end
return results
