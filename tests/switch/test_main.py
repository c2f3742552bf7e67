"""`trunkline switch check`: the engine's command line runs without Django (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.routing.helpers import simulate_world
from trunkline.contracts.codec import SNAPSHOT_FILE
from trunkline.routing.snapshot import snapshot_publish
from trunkline.switch.main import default_routing_file

ROOT = Path(__file__).resolve().parents[2]

# The console script's main() as `trunkline switch ...` runs it; then the Django modules the process loaded.
RUN = """
import json, sys
from trunkline.manage import main
sys.argv = ["trunkline", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code
print("django modules:", json.dumps(sorted(m for m in sys.modules if m == "django" or m.startswith("django."))))
sys.exit(code)
"""


def trunkline(*arguments: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, *arguments], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TRUNKLINE_VAR_DIR": str(var_dir),
                               "DJANGO_SETTINGS_MODULE": "config.settings"})


@pytest.mark.django_db
def test_check_reads_the_published_file_without_loading_django(tmp_path: Path) -> None:
    simulate_world()
    published = snapshot_publish()  # where the publisher writes: settings.VAR_DIR, the test's tmp_path
    assert published == tmp_path / SNAPSHOT_FILE
    result = trunkline("switch", "check", var_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"routing file {published}: revision ") and ", schema 3, generated 20" in lines[0]
    assert lines[1:11] == ["  customers: 1", "  IP-auth entries: 1", "  SIP users: 0", "  ingress routes: 1",
                           "  CLI rules: 0", "  parameter rewrites: 0", "  providers: 2", "  rate cards: 3",
                           "  rate rows: 3", "  customer cards indexed: 1"]
    assert lines[11].startswith("loaded in ") and " s, index built in " in lines[11] and " MiB" in lines[11]
    assert lines[12] == "django modules: []"


def test_check_fails_clearly_on_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    result = trunkline("switch", "check", "--routing-file", str(missing), var_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"trunkline switch check: no routing file at {missing}; publish one with "
                             f"`trunkline publish_snapshot` or name it with --routing-file\n")
    assert result.stdout == "django modules: []\n"


def test_the_probe_sees_django_when_a_django_command_runs(tmp_path: Path) -> None:
    result = trunkline("help", var_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "django" in json.loads(result.stdout.splitlines()[-1].removeprefix("django modules: "))


def test_the_default_routing_file_is_the_one_the_publisher_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUNKLINE_VAR_DIR", raising=False)
    assert default_routing_file() == Path(settings.BASE_DIR) / "var" / SNAPSHOT_FILE
    monkeypatch.setenv("TRUNKLINE_VAR_DIR", "/srv/trunkline/var")
    assert default_routing_file() == Path("/srv/trunkline/var") / SNAPSHOT_FILE
