"""Train / val / test split of the mitdb records, by record (never by window).

AF records are stratified 5 / 1 / 2 so each split holds AF; the others go ~70 / 10 / 20 %.
Records 201 and 202 come from the same patient (mitdb is 48 records of 47 subjects), so they
always land in the same split to keep one patient out of two splits.
"""
from __future__ import annotations

import numpy as np

from .errors import DataError
from .records import mitdb_records

AF_RECORDS = ("201", "202", "203", "210", "217", "219", "221", "222")
SAME_PATIENT = (("201", "202"),)
SPLITS = ("train", "val", "test")
AF_COUNTS = {"train": 5, "val": 1, "test": 2}
OTHER_FRACTIONS = {"val": 0.1, "test": 0.2}  # train gets the rest


def _groups(names: list[str]) -> list[list[str]]:
    """Records as patient groups: the SAME_PATIENT tuples present, the rest one per group."""
    groups, seen = [], set()
    for pair in SAME_PATIENT:
        g = [n for n in pair if n in names]
        if g:
            groups.append(g)
            seen.update(g)
    return groups + [[n] for n in names if n not in seen]


def _fill(groups: list[list[str]], capacity: dict[str, int], order) -> dict[str, list[str]]:
    """Put each group into the first split in `order` with room for it."""
    out = {s: [] for s in SPLITS}
    for g in groups:
        for s in order:
            if len(out[s]) + len(g) <= capacity[s]:
                out[s] += g
                break
        else:  # unreachable with one pair and the capacities used here
            raise AssertionError(f"no split has room for {g}")
    return out


def split_records(data_dir=None, seed: int = 0) -> dict[str, list[str]]:
    """{'train', 'val', 'test'} -> sorted record names; deterministic for a seed."""
    names = mitdb_records(data_dir)
    missing = [r for r in AF_RECORDS if r not in names]
    if missing:
        raise DataError(f"mitdb is missing the AF records {missing}; the split needs all of {list(AF_RECORDS)}")
    rng = np.random.default_rng(seed)
    af_groups = _groups([n for n in names if n in AF_RECORDS])
    other_groups = _groups([n for n in names if n not in AF_RECORDS])
    af_groups = [af_groups[i] for i in rng.permutation(len(af_groups))]
    other_groups = [other_groups[i] for i in rng.permutation(len(other_groups))]

    n_other = sum(len(g) for g in other_groups)
    other_cap = {s: round(OTHER_FRACTIONS[s] * n_other) for s in ("val", "test")}
    other_cap["train"] = n_other - other_cap["val"] - other_cap["test"]
    order = ("test", "val", "train")  # smallest splits first, train takes what is left
    af = _fill(af_groups, AF_COUNTS, order)
    other = _fill(other_groups, other_cap, order)
    split = {s: sorted(af[s] + other[s]) for s in SPLITS}

    all_names = [n for s in SPLITS for n in split[s]]
    assert len(all_names) == len(set(all_names)) == len(names), "splits overlap or miss records"
    return split
