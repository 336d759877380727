"""C identifiers from layer and tensor names."""
from __future__ import annotations

import re

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert
_Thread_local bool true false NULL main asm
""".split())

# names model.c itself uses
RESERVED = frozenset({"input", "denoised", "logits", "arena", "edgekit_model_run", "edgekit_layer_hook",
                      "edgekit_layer_names", "edgekit_layer_macs", "EDGEKIT_HOOK"})


def sanitize(name: str) -> str:
    """A valid C identifier close to `name` (not yet unique)."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", name)
    s = re.sub(r"_+", "_", s).strip("_") or "t"
    if s[0].isdigit():
        s = "t_" + s
    if s.startswith("__") or (s[0] == "_" and s[1:2].isupper()):
        s = "t" + s
    if s in C_KEYWORDS:
        s += "_"
    return s


class Namer:
    """Hands out unique identifiers; the same key always gets the same name."""

    def __init__(self, reserved=RESERVED):
        self.used = set(reserved) | set(C_KEYWORDS)
        self.by_key: dict = {}

    def __call__(self, key, want: str) -> str:
        if key in self.by_key:
            return self.by_key[key]
        base = sanitize(want)
        if base.lower().startswith("edgekit_"):
            base = "l_" + base
        name, i = base, 2
        while name in self.used:
            name = f"{base}_{i}"
            i += 1
        self.used.add(name)
        self.by_key[key] = name
        return name
