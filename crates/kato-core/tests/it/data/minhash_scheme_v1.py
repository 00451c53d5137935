"""Independent reference of kato's MinHash/LSH scheme version 1 (see src/minhash.rs).

`python minhash_scheme_v1.py` prints the values pinned in tests/it/golden.rs. Needs the
`xxhash` package (XXH64).
"""
import struct

import xxhash

MASK64 = (1 << 64) - 1
PARAMETER_SEED = b"kato minhash scheme 1 parameters"
BAND_HASH_SEED = 0x6B61746F4C534842


def xoshiro256plusplus(seed):
    s = list(struct.unpack("<4Q", seed))
    rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & MASK64
    while True:
        result = (rotl((s[0] + s[3]) & MASK64, 23) + s[0]) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        yield result


def parameters(permutations):
    rng = xoshiro256plusplus(PARAMETER_SEED)
    return [(next(rng) | 1, next(rng)) for _ in range(permutations)]


def token_key(token):
    h = xxhash.xxh64_intdigest(token.encode("utf-8"), seed=0)
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def signature(tokens, permutations=100):
    keys = {token_key(t) for t in tokens}
    return [
        min((((a * k + b) & MASK64) >> 32 for k in keys), default=0xFFFFFFFF)
        for a, b in parameters(permutations)
    ]


def band_hashes(sig, bands=20, rows=5):
    return [
        xxhash.xxh64_intdigest(struct.pack(f"<{1 + rows}I", j, *sig[j * rows:(j + 1) * rows]), seed=BAND_HASH_SEED)
        for j in range(bands)
    ]


if __name__ == "__main__":
    print("first parameters", [(hex(a), hex(b)) for a, b in parameters(2)])
    sig = signature(["hello", "world"])
    print("signature[..10]", sig[:10])
    print("bands[..3]", band_hashes(sig)[:3])
    empty = signature([])
    print("empty bands[..1]", band_hashes(empty)[:1])
