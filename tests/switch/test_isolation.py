"""DESIGN.md: trunkline.switch and trunkline.contracts import no Django (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imports every module of the named packages (so a module added later is covered too) and lists what of
# Django or the Django side came with them.
PROBE = """
import importlib, json, pkgutil, sys
for name in sys.argv[1:]:
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
        importlib.import_module(module.name)
heavy = ("django", "rest_framework", "config", "trunkline.core", "trunkline.audit", "trunkline.customers",
         "trunkline.notifications")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy) and (m in heavy or m.startswith(
    tuple(h + "." for h in heavy))))))
"""


def django_modules_after_importing(*packages: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *packages], cwd=ROOT, capture_output=True, text=True,
                            check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    modules: list[str] = json.loads(result.stdout)
    return modules


def test_switch_and_contracts_import_no_django() -> None:
    assert django_modules_after_importing("trunkline.switch", "trunkline.contracts") == []


def test_the_probe_does_see_django_when_it_is_imported() -> None:
    found = django_modules_after_importing("django.conf")
    assert "django" in found and "django.conf" in found
