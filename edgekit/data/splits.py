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


# ---- patients of the other databases (qtdb, svdb, vfdb) -------------------------------------------
# Held out per source database, so every source is in both the cross-database validation and test
# sets: (validation, test) patient counts. qtdb's excerpts come from six databases (qtdb/SOURCE.md);
# svdb's are kept apart by their rate: the svdb folder is 128 Hz, qtdb's sel8xx excerpts of other
# svdb patients were resampled to 250 Hz.
XDB_HELD_OUT = {"stdb": (1, 1), "ltdb": (1, 1), "nsrdb": (2, 2), "sddb": (3, 4), "edb": (4, 5),
                "svdb-qtdb": (2, 3), "svdb-128": (2, 3)}
XDB_SPLITS = ("train", "val", "test")


def source_of(name: str) -> str:
    """The source database of a 'qtdb/...', 'svdb/...' or 'vfdb/...' record (see qtdb/SOURCE.md)."""
    db, rec = name.split("/", 1)
    if db in ("svdb", "vfdb"):
        return "svdb-128" if db == "svdb" else "vfdb"
    if rec.startswith("sele"):
        return "edb"
    num = rec[3:]
    if num in ("14046", "14157", "14172", "15814"):
        return "ltdb"
    if len(num) == 5 and num[:2] in ("16", "17"):
        return "nsrdb"
    if len(num) == 3 and num.startswith("3"):
        return "stdb"
    if len(num) == 3 and num.startswith("8"):
        return "svdb-qtdb"
    if len(num) == 2 and 30 <= int(num) <= 52:
        return "sddb"
    raise DataError(f"{name}: no known source database (qtdb/SOURCE.md lists them)")


def edb_groups(data_dir, names: list[str]) -> list[list[str]]:
    """European ST-T records grouped so that records that may share a subject share a group.

    edb has 90 records of 79 subjects and the names do not say which share one. Each header states
    the subject's age and sex; records of one subject agree on sex and on age within a year. So
    records are linked when their sex matches and their ages differ by at most one year, and
    groups are the connected sets (chains 45-46-47-... join into one group: conservative). A
    record with an unknown age or sex forms a group of its own and is kept in training."""
    import wfdb

    from .paths import resolve_data_dir

    root = resolve_data_dir(data_dir)
    info = {}
    for n in names:
        db, rec = n.split("/", 1)
        text = " ".join(wfdb.rdheader(str(root / db / rec)).comments or [])
        age, sex = _age_sex(text)
        info[n] = (age, sex)
    parent = {n: n for n in names}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    known = [n for n in names if info[n][0] is not None]
    for i, a in enumerate(known):
        for b in known[i + 1:]:
            if info[a][1] == info[b][1] and abs(info[a][0] - info[b][0]) <= 1:
                parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(find(n), []).append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def _age_sex(text: str):
    """(age, sex) from a header comment 'Age: 47  Sex: M'; (None, None) when either is missing."""
    import re

    m = re.search(r"Age:\s*(\d+)\s+Sex:\s*([MF])", text)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def cross_database_split(data_dir=None, seed: int = 0) -> dict[str, list[str]]:
    """{'train', 'val', 'test'} -> sorted qtdb/svdb/vfdb record names (one patient each, except the
    edb groups), deterministic for a seed. Per source database (source_of) XDB_HELD_OUT patients go
    to validation and test, drawn at random; European ST-T records go by edb_groups, whole groups
    only, and a group goes to training when it would overfill the held-out set. vfdb (the AF
    patients 609 and 615) always trains."""
    from .records import database_records

    names = [n for db in ("qtdb", "svdb", "vfdb") for n in database_records(data_dir, db)]
    by_source: dict[str, list[str]] = {}
    for n in names:
        by_source.setdefault(source_of(n), []).append(n)
    rng = np.random.default_rng(seed)
    out = {s: [] for s in XDB_SPLITS}
    for source in sorted(by_source):
        members = sorted(by_source[source])
        if source not in XDB_HELD_OUT:
            out["train"] += members
            continue
        groups = edb_groups(data_dir, members) if source == "edb" else [[m] for m in members]
        n_val, n_test = XDB_HELD_OUT[source]
        room = {"test": n_test, "val": n_val}
        for i in rng.permutation(len(groups)):
            g = groups[i]
            unknown = source == "edb" and len(g) == 1 and _age_sex_unknown(data_dir, g[0])
            for s in ("test", "val"):
                if not unknown and len(g) <= room[s]:
                    out[s] += g
                    room[s] -= len(g)
                    break
            else:
                out["train"] += g
    split = {s: sorted(out[s]) for s in XDB_SPLITS}
    all_names = [n for s in XDB_SPLITS for n in split[s]]
    assert len(all_names) == len(set(all_names)) == len(names), "cross-database splits overlap or miss records"
    return split


def _age_sex_unknown(data_dir, name: str) -> bool:
    import wfdb

    from .paths import resolve_data_dir

    db, rec = name.split("/", 1)
    return _age_sex(" ".join(wfdb.rdheader(str(resolve_data_dir(data_dir) / db / rec)).comments or []))[0] is None
