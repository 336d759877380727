"""Everything from a model file that reaches the generated C goes through this module.

A model file is untrusted input: its graph, node and tensor names end up in C identifiers,
comments and string literals. Three functions, and nothing else, put them there:

- `Namer` (via `sanitize`): model name -> C identifier. A whitelist: only [A-Za-z0-9_],
  never a keyword, a reserved identifier (`_X...`, `__...`), a name that could be a macro of
  the C headers the generated files include (all upper case: INT8_MAX, NULL, EOF...) or a
  type (`..._t`), at most MAX_IDENT characters; unique (a collision gets a numeric suffix,
  and `Namer.check` proves no two keys share an identifier).
- `c_comment`: text -> the inside of a one-line /* ... */ comment: printable ASCII only,
  no `*/` or `/*`, no backslash, no `?` (so no trigraph), no line break.
- `c_string`: text -> a C string literal of printable ASCII: `\\`, `\\"`, `\\?` and 3-digit
  octal escapes for every other byte (an octal escape never swallows a following digit, as a
  hex escape would).

`display_name` shortens a name for comments and strings (80 characters, then a hash), so a
10 kB name stays a short line and a short string in the firmware's hello frame.
"""
from __future__ import annotations

import hashlib
import re

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert
_Thread_local bool true false NULL main asm offsetof errno assert
""".split())

# names model.c itself uses
RESERVED = frozenset({"input", "denoised", "logits", "arena", "edgekit_model_run", "edgekit_layer_hook",
                      "edgekit_layer_names", "edgekit_layer_macs", "EDGEKIT_HOOK"})

MAX_IDENT = 48        # identifier length before the hash suffix (C99 guarantees 63 significant)
MAX_DISPLAY = 80      # characters of a name kept in comments and strings


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def sanitize(name: str) -> str:
    """A valid, unreserved C identifier close to `name` (not yet unique)."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", name)
    s = re.sub(r"_+", "_", s).strip("_") or "t"
    if s[0].isdigit():
        s = "t_" + s
    if s.startswith("__") or (s[0] == "_" and s[1:2].isupper()):
        s = "t" + s
    if not any(c.islower() for c in s):      # could be a macro of <stdint.h>, <stddef.h>, ...
        s = "t_" + s
    if s.endswith("_t"):                     # could be a type (int8_t, size_t, ...)
        s += "_"
    if s in C_KEYWORDS:
        s += "_"
    if len(s) > MAX_IDENT:
        s = s[:MAX_IDENT].rstrip("_") + "_" + _digest(name)
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

    def check(self) -> None:
        """Raise if two keys got the same identifier or one is not a plain identifier (a bug)."""
        names = list(self.by_key.values())
        dup = {n for n in names if names.count(n) > 1}
        bad = [n for n in names if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n)]
        if dup or bad:
            raise AssertionError(f"identifier collision {sorted(dup)} or invalid identifiers {bad}")


def _visible(c: str) -> str:
    """A character as printable ASCII: itself, or <U+XXXX>."""
    return c if " " <= c <= "~" else f"<U+{ord(c):04X}>"


def display_name(name: str, limit: int = MAX_DISPLAY) -> str:
    """`name` in printable ASCII (other characters as <U+XXXX>), cut to `limit` characters plus
    `...#` and 8 hex of its sha256 when longer: for comments, strings and tables."""
    s = "".join(_visible(c) for c in name)
    if len(s) <= limit:
        return s
    return s[:limit] + "...#" + _digest(name)


def c_comment(text: str) -> str:
    """`text` made safe for the inside of a one-line C comment /* ... */."""
    s = "".join("<U+005C>" if c == "\\" else "<U+003F>" if c == "?" else _visible(c) for c in text)
    while "*/" in s or "/*" in s:
        s = s.replace("*/", "* /").replace("/*", "/ *")
    return s


def c_string(text: str) -> str:
    """`text` as a C string literal (with the quotes) of printable ASCII; UTF-8 for the rest."""
    out = []
    for b in text.encode("utf-8", "surrogatepass"):
        c = chr(b)
        if c in '\\"?':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'
