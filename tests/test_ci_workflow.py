""".github/workflows/ci.yml: the README's setup and test commands, one QEMU target per job."""
import re
from pathlib import Path

from edgekit.firmware.targets import known_targets

REPO = Path(__file__).resolve().parents[1]


def _jobs() -> dict[str, str]:
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    return dict(re.findall(r'- name: ([\w-]+)\n\s+marks: "([^"]+)"', text))


def test_ci_runs_the_readme_commands():
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    assert "run: bash scripts/setup.sh" in text
    assert 'run: .venv/bin/python -m pytest -q -m "${{ matrix.marks }}"' in text
    readme = (REPO / "README.md").read_text()
    assert "bash scripts/setup.sh && .venv/bin/python -m pytest -q" in readme


def test_one_job_per_qemu_target_and_the_rest():
    jobs = _jobs()
    qemu_targets = [t for t in known_targets() if t != "host"]
    for t in qemu_targets:
        assert jobs[t] == f"qemu and {t.replace('-', '_')}", t
    assert jobs["not-qemu"] == "not qemu"
    others = jobs["qemu-other"]
    assert others.startswith("qemu and not (") and all(t.replace("-", "_") in others for t in qemu_targets)
