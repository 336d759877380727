"""Frame limits are checked when compiling, and a model whose output exceeds the old 16 KiB host
parser cap (and whose reply frame is larger than protocol version 1's u16 length could say) is
streamed bit-exactly to the host-board firmware."""
import json

import numpy as np
import pytest
import torch

from edgekit.compiler import compile_model
from edgekit.firmware import protocol_limits as L
from edgekit.firmware.build import build_firmware
from edgekit.harness.device import Device, HostRunner
from edgekit.model.acdae import ACDAE, ACDAEConfig
from edgekit.model.fakequant import set_qat
from edgekit.ir import reference
from edgekit.quant.export import export_model

# 2 x 36,864 samples: input and denoised output 72 KiB each, the reply frame > 65,535 B
BIG = ACDAEConfig(window=36864, widths=(4, 4), kernel=3, strides=(4, 4), dec_kernel=4, head_hidden=4)


@pytest.fixture(scope="module")
def big_model(tmp_path_factory):
    torch.manual_seed(0)
    m = ACDAE(BIG)
    set_qat(m, True)
    m.train()
    with torch.no_grad():
        for _ in range(2):
            m(torch.randn(2, BIG.in_channels, BIG.window) * 0.3)
    return export_model(m.eval(), tmp_path_factory.mktemp("big"))


def test_frame_check_names_what_cannot_be_streamed(monkeypatch):
    ok = L.frame_check(2048, 2048, 2, "acdae", ["a", "b"])
    assert ok["streamable"] and ok["problems"] == []
    assert ok["reply_bytes"] == 8 + 2 * 4 + 2048 + 2 and ok["request_bytes"] == 2048
    bad = L.frame_check(L.MAX_PAYLOAD + 1, 2048, 2, "acdae", ["a"])
    assert not bad["streamable"]
    assert bad["problems"] == [f"request frame payload {L.MAX_PAYLOAD + 1:,} B exceeds the protocol's "
                               f"limit of {L.MAX_PAYLOAD:,} B"]
    # the limit is read when checking: the boundary itself is allowed, one byte more is not
    monkeypatch.setattr(L, "MAX_PAYLOAD", ok["reply_bytes"])
    assert L.frame_check(2048, 2048, 2, "acdae", ["a", "b"])["streamable"]
    assert not L.frame_check(2048, 2049, 2, "acdae", ["a", "b"])["streamable"]


def test_big_output_compiles_streamable_and_streams_bit_exact(big_model, tmp_path):
    res = compile_model(big_model, "host", tmp_path / "model")
    st = json.loads((tmp_path / "model" / "compile.json").read_text())["stream"]
    assert st["streamable"] and st["reply_bytes"] > 0xFFFF and st["request_bytes"] == 2 * BIG.window
    assert "stream frames" in res.table() and ": ok" in res.table()

    elf = build_firmware(tmp_path / "model", "host", tmp_path / "fw").path
    rng = np.random.default_rng(1)
    x = rng.integers(-100, 100, (2, BIG.in_channels, BIG.window)).astype(np.int8)
    want = reference.run(res.graph, x)
    with HostRunner(elf) as runner:
        dev = Device(runner.link, timeout=30.0)
        info = dev.sync()
        assert info.denoised_bytes == 2 * BIG.window > 16384
        for i in range(len(x)):
            den, logits, _, _ = dev.infer(x[i])
            assert np.array_equal(den.ravel(), want[res.graph.outputs[0]][i].ravel())
            assert np.array_equal(logits.ravel(), want[res.graph.outputs[1]][i].ravel())
        assert dev.retried == 0 and dev.errors == []


def test_unstreamable_model_is_said_at_compile_time(big_model, tmp_path, monkeypatch):
    monkeypatch.setattr(L, "MAX_PAYLOAD", 16384)
    res = compile_model(big_model, "host", tmp_path / "model", build_object=False)
    st = res.report["stream"]
    assert not st["streamable"]
    assert any(p.startswith("reply frame payload") and "16,384 B" in p for p in st["problems"])
    assert "WARNING, cannot be streamed" in res.table()
