"""Regenerates numpy_array_str.jsonl: NumPy's str() of float64 vectors and VCTR names.

Run with NumPy 2.x: `python numpy_array_str.py > numpy_array_str.jsonl`. Each line holds a
vector's values as Python float reprs (so nan/inf survive JSON), `text` = NumPy's str() of the
array, and `name` = the symbol of an observation holding that one vector: `VCTR|` + SHA-1 of the
str() of the observation's vectors summed with `sum(axis=0)` (which turns -0.0 into 0.0).
"""
import hashlib
import json
import random

import numpy as np

rng = random.Random(20260427)


def value():
    kind = rng.randrange(10)
    if kind == 0:
        return float(rng.randint(-20, 20))
    if kind == 1:
        return round(rng.uniform(-100, 100), rng.randint(0, 4))
    if kind == 2:
        return rng.uniform(-1, 1) * 10 ** rng.randint(-12, 12)
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e-4, 9.99999999e-5, 1e8, 99999999.99, 0.5, 0.25, 1e3, 1e-3])
    if kind == 4:
        return rng.randint(1, 999) / rng.choice([3, 7, 9, 11, 1024, 1000])
    if kind == 5:
        return rng.uniform(0, 1)
    if kind == 6:
        return round(rng.uniform(0, 10), 8) + rng.choice([0, 5e-9, -5e-9])
    if kind == 7:
        return rng.choice([1e300, -1e-300, 5e-324, 1.7976931348623157e308, 123456789.0, 2.5e-5])
    if kind == 8:
        return float(rng.randint(-10**9, 10**9)) / 10 ** rng.randint(0, 9)
    return rng.gauss(0, 1000)


def case(values):
    text = str(np.array(values, dtype=np.float64))
    summed = np.array([values], dtype=np.float64).sum(axis=0)
    name = "VCTR|" + hashlib.sha1(str(summed).encode()).hexdigest()
    return {"values": [repr(float(v)) for v in values], "text": text, "name": name}


cases = []
for _ in range(400):
    cases.append(case([value() for _ in range(rng.randint(1, 8))]))
for _ in range(30):
    cases.append(case([value() for _ in range(rng.randint(9, 60))]))
for _ in range(20):
    values = [value() for _ in range(rng.randint(1, 6))]
    values[rng.randrange(len(values))] = rng.choice([float("nan"), float("inf"), float("-inf")])
    cases.append(case(values))
for length in (1000, 1001, 1500):
    cases.append(case([rng.uniform(-5, 5) for _ in range(length)]))
for line in cases:
    print(json.dumps(line))
