"""Settings come from the environment (checked in subprocesses, so each reads a fresh environment)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_in_subprocess(env: dict[str, str], expression: str) -> object:
    code = ("import os, json; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
            "from django.conf import settings;"
            f"print(json.dumps({expression}, default=str))")
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "HOST", "PORT"}}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, cwd=ROOT, capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout)


def test_secret_key_is_generated_once_and_kept(tmp_path) -> None:
    env = {"TRUNKLINE_VAR_DIR": str(tmp_path)}
    first = settings_in_subprocess(env, "settings.SECRET_KEY")
    second = settings_in_subprocess(env, "settings.SECRET_KEY")
    assert first == second
    assert len(first) >= 50
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_environment_overrides(tmp_path) -> None:
    env = {"TRUNKLINE_VAR_DIR": str(tmp_path), "SECRET_KEY": "from-env", "DEBUG": "true", "HOST": "0.0.0.0",
           "PORT": "9000", "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/trunkline"}
    values = settings_in_subprocess(env, "[settings.SECRET_KEY, settings.DEBUG, settings.HOST, settings.PORT, "
                                         "settings.DATABASES['default']['ENGINE'], "
                                         "settings.DATABASES['default']['NAME']]")
    assert values == ["from-env", True, "0.0.0.0", 9000, "django.db.backends.postgresql", "trunkline"]
    assert not (tmp_path / "secret_key").exists()


def test_defaults_are_sqlite_under_var_and_debug_off(tmp_path) -> None:
    values = settings_in_subprocess({"TRUNKLINE_VAR_DIR": str(tmp_path)},
                                    "[settings.DEBUG, settings.HOST, settings.PORT, "
                                    "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME']]")
    assert values == [False, "127.0.0.1", 8000, "django.db.backends.sqlite3", str(tmp_path / "trunkline.sqlite3")]
