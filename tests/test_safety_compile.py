"""A model file cannot inject code into the generated C.

Every tensor, node and graph name of a small test model is replaced by a hostile one (comment
terminators, line breaks, quotes, backslashes, trigraphs, non-ASCII, C keywords and macros,
10 kB names). The compiled C must be the same program as for the original names, token for
token up to a renaming of identifiers, compile with -std=c99 -Wall -Wextra -Werror -trigraphs,
and run bit-exact with the integer reference."""
import re
import shutil
import subprocess

import numpy as np
import onnx
import pytest

from edgekit.compiler import HostModel, compile_model
from edgekit.compiler.names import Namer, c_comment, c_string, display_name, sanitize
from edgekit.model.acdae import ACDAEConfig
from edgekit.ir import reference

from test_compiler import _assert_bit_exact, _export, _windows

CFG = ACDAEConfig(window=256, widths=(8, 16), kernel=3, strides=(2, 2), dec_kernel=4, head_hidden=8)

HOSTILE = [
    "*/ int EVIL_a(void) { return 1; } /*",
    "x\n#include <stdlib.h>\nstatic void __attribute__((constructor)) EVIL_b(void) { abort(); }\n",
    'r\r"; int EVIL_c; const char *q = "',
    "quote\"'s and `ticks`",
    "back\\",
    "back\\\nslash",
    "??/",
    "??=define EVIL_d ??/",
    "??)??(??<??>??!??-??'",
    "\u00e9l\u00e8ve \u2713 \U0001d11e \u202e",
    "nul\x00byte\x01\x7f\x1b[2J",
    "%s%n%x",
    "int8_t", "INT8_MAX", "NULL", "main", "input", "edgekit_model_run", "__evil", "_Evil", "1st", "",
    "a/b", "a.b", "a b",        # the same identifier after sanitizing
    "/*", "*/", "//", "\\",
]


def _hostile(i: int) -> str:
    if i % 9 == 4:
        return "L" * 10_000 + f"*/{i}\n"   # 10 kB
    return HOSTILE[i % len(HOSTILE)] + ("" if i < len(HOSTILE) else f"#{i}")


def _rename(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with every tensor, node and graph name replaced by a hostile one."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    names = []
    for n in g.node:
        names += [*n.input, *n.output]
    names += [t.name for t in g.initializer] + [v.name for v in (*g.input, *g.output, *g.value_info)]
    mapping = {}
    for name in dict.fromkeys(x for x in names if x):
        new = _hostile(len(mapping))
        mapping[name] = new if new and new not in mapping.values() else f"{new}#t{len(mapping)}"
    for n in g.node:
        n.input[:] = [mapping.get(x, x) for x in n.input]
        n.output[:] = [mapping.get(x, x) for x in n.output]
    for t in (*g.initializer, *g.input, *g.output, *g.value_info):
        t.name = mapping[t.name]
    for i, n in enumerate(g.node):
        n.name = f"{_hostile(i + 3)}#n{i}"
    g.name = "model\r\"; int EVIL_e; //??/\n\u00e9"
    for p in m.metadata_props:
        if p.key == "edgekit_model_name":
            p.value = g.name
    return m


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    path = _export(CFG, root / "plain", seed=7)
    hostile = root / "hostile" / "model.onnx"
    hostile.parent.mkdir()
    onnx.save(_rename(onnx.load(str(path))), str(hostile))
    return compile_model(path, "host", root / "c_plain"), compile_model(hostile, "host", root / "c_hostile")


_COMMENT_OR_STRING = re.compile(r'/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.S)
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d\w*|\S")
_IDENT = re.compile(r"[A-Za-z_]\w*")


def _tokens(src: str) -> list[str]:
    return _TOKEN.findall(_COMMENT_OR_STRING.sub(" ", src))


FILES = ("model.h", "model.c", "kernels.h", "kernels.c")


@pytest.mark.parametrize("name", FILES)
def test_hostile_names_give_the_same_program(pair, name):
    """Token for token the same C, up to a one-to-one renaming of identifiers: nothing was injected."""
    plain, hostile = ((r.out_dir / name).read_text() for r in pair)
    a, b = _tokens(plain), _tokens(hostile)
    assert len(a) == len(b), f"{name}: {len(a)} tokens vs {len(b)}"
    fwd, back = {}, {}
    for x, y in zip(a, b):
        if x == y:
            continue
        assert _IDENT.fullmatch(x) and _IDENT.fullmatch(y), f"{name}: {x!r} became {y!r}"
        assert fwd.setdefault(x, y) == y and back.setdefault(y, x) == x, f"{name}: {x!r} / {y!r} not one-to-one"
    for x in a:  # an identifier that kept its spelling must not be the image of another one
        assert back.get(x, x) == x, f"{name}: {x!r} collides"
    assert "EVIL" not in " ".join(t for t in b if t not in back), name


@pytest.mark.parametrize("name", FILES)
def test_generated_files_are_plain_ascii_without_trigraphs_or_splices(pair, name):
    src = (pair[1].out_dir / name).read_text()
    assert all(c == "\n" or " " <= c <= "~" for c in src), name
    assert "??" not in src and "\r" not in src
    assert not re.search(r"\\\n", src), "a backslash at the end of a line splices lines"
    assert max(map(len, src.splitlines())) < 1000, "a 10 kB name reached the C unshortened"


def test_hostile_c_compiles_strictly(pair, tmp_path):
    d = pair[1].out_dir
    for src in ("model.c", "kernels.c"):
        cmd = ["gcc", "-std=c99", "-trigraphs", "-Wall", "-Wextra", "-Werror", "-Wtrigraphs", "-Wcomment",
               "-I", str(d), "-c", str(d / src), "-o", str(tmp_path / (src + ".o"))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_hostile_model_builds_into_the_host_firmware(pair, tmp_path):
    """The path of the original attack (run.py --target host): the firmware build (-Werror) of
    the hostile C succeeds, and its strings are the shortened ASCII names."""
    from edgekit.firmware.build import build_firmware
    info = build_firmware(pair[1].out_dir, "host", tmp_path)
    data = info.path.read_bytes()
    assert display_name(pair[1].graph.ops[0].name).encode() in data


def test_hostile_build_is_bit_exact_and_equals_the_plain_build(pair):
    plain, hostile = pair
    assert [k.func for k in hostile.kernels] != [k.func for k in plain.kernels]   # the names did change
    for kp, kh in zip(plain.kernels, hostile.kernels):
        assert kp.consts.keys() == kh.consts.keys()
        for key in kp.consts:
            np.testing.assert_array_equal(kp.consts[key], kh.consts[key])
    x = _windows(16, CFG.in_channels, CFG.window, seed=21)
    host = HostModel(hostile.out_dir)
    _assert_bit_exact(host, hostile.graph, x)
    got, want = host.run(x), HostModel(plain.out_dir).run(x)
    for api in ("denoised", "logits"):
        np.testing.assert_array_equal(got[api], want[api])
    assert host.layer_names == [display_name(op.name) for op in hostile.graph.ops]
    assert reference.run(plain.graph, x)[plain.graph.outputs[0]].shape == got["denoised"].shape


# --- the three functions, on their own ---------------------------------------------------
def _samples():
    rng = np.random.default_rng(0)
    extra = ["".join(chr(int(c)) for c in rng.integers(0, 0x3000, 40)) for _ in range(50)]
    extra += ["".join(rng.choice(list("*/?\\\"'\n\r ab?"), 30)) for _ in range(200)]
    return HOSTILE + [_hostile(4)] + extra


def test_c_comment_cannot_end_or_splice_a_comment():
    for s in _samples():
        c = c_comment(s)
        assert all(" " <= ch <= "~" for ch in c), repr(s)
        assert "*/" not in c and "/*" not in c and "?" not in c and "\\" not in c, repr(s)
    assert c_comment("enc1: conv1d 2x1024 -> 16x512") == "enc1: conv1d 2x1024 -> 16x512"
    assert c_comment("*/") == "* /" and c_comment("/*/") == "/ * /"


def test_c_string_round_trips_through_gcc(tmp_path):
    samples = [s for s in _samples() if "\x00" not in s]
    body = "\n".join(f"    fwrite({c_string(s)}, 1, sizeof({c_string(s)}) - 1, stdout);" for s in samples)
    (tmp_path / "s.c").write_text(f"#include <stdio.h>\nint main(void) {{\n{body}\n    return 0;\n}}\n")
    gcc = shutil.which("gcc")
    assert gcc, "gcc is missing: apt-get install gcc"
    subprocess.run([gcc, "-std=c99", "-trigraphs", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "s"),
                    str(tmp_path / "s.c")], check=True)
    out = subprocess.run([str(tmp_path / "s")], capture_output=True, check=True).stdout
    assert out == "".join(samples).encode("utf-8", "surrogatepass")
    for s in samples:
        assert all(" " <= ch <= "~" for ch in c_string(s)) and "??" not in c_string(s)


def test_identifiers_are_whitelisted_unique_and_short():
    n = Namer()
    got = [n(i, s) for i, s in enumerate(_samples())]
    n.check()
    assert len(set(got)) == len(got)
    for ident in got:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", ident), ident
        assert any(c.islower() for c in ident) and not ident.endswith("_t"), ident
    assert sanitize("INT8_MAX") == "t_INT8_MAX" and sanitize("int8_t") == "int8_t_"
    assert len(sanitize("L" * 10_000)) <= 63 and sanitize("L" * 10_000) != sanitize("L" * 9_999)
    assert display_name("enc1") == "enc1" and display_name("\u00e9\n") == "<U+00E9><U+000A>"
    long = display_name("L" * 10_000)
    assert len(long) < 100 and long.startswith("L" * 80 + "...#")
