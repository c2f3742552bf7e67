"""Settings come from the environment (checked in subprocesses, so each reads a fresh environment)."""

import json
import os
import re
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


def run_trunkline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests set it in this process for Playwright; a deployment never has it.
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "HOST", "PORT",
                                                              "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    return subprocess.run([sys.executable, "-m", "trunkline.manage", *args], env={**clean, **env}, cwd=ROOT,
                          capture_output=True, text=True)


def test_a_sqlite_database_url_gets_the_sqlite_options(tmp_path) -> None:
    path = tmp_path / "elsewhere" / "x.sqlite3"  # sqlite:////tmp/.../x.sqlite3, an absolute path
    path.parent.mkdir()
    database = settings_in_subprocess({"TRUNKLINE_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{path}"},
                                      "settings.DATABASES['default']")
    assert (database["ENGINE"], database["NAME"], database["CONN_MAX_AGE"]) == (
        "django.db.backends.sqlite3", str(path), 0)
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # created private, before SQLite opens it
    assert database["OPTIONS"] == {
        "timeout": 20, "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; "
                        "PRAGMA mmap_size=268435456;"}


def test_https_behind_a_proxy_makes_check_deploy_clean(tmp_path) -> None:
    env = {"TRUNKLINE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k" * 20 + "Zq8#vL2!pX9@mN4$wR7%tY1^uI6&oP3*aS5(dF0)",
           "TRUNKLINE_HTTPS": "1", "CSRF_TRUSTED_ORIGINS": "https://panel.example.net,https://noc.example.net"}
    result = run_trunkline(env, "check", "--deploy", "--fail-level", "WARNING")
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (
        0, "System check identified no issues (1 silenced).", "")
    values = settings_in_subprocess(env, "[settings.SECURE_PROXY_SSL_HEADER, settings.SECURE_SSL_REDIRECT, "
                                         "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
                                         "settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
                                         "settings.SECURE_HSTS_PRELOAD, settings.CSRF_TRUSTED_ORIGINS]")
    assert values == [["HTTP_X_FORWARDED_PROTO", "https"], True, True, True, 31536000, True, False,
                      ["https://panel.example.net", "https://noc.example.net"]]


def test_without_https_check_deploy_names_what_is_missing(tmp_path) -> None:
    env = {"TRUNKLINE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k" * 20 + "Zq8#vL2!pX9@mN4$wR7%tY1^uI6&oP3*aS5(dF0)"}
    result = run_trunkline(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 1
    # HSTS, the SSL redirect, and the session and CSRF cookies' Secure flag: the four the issue found.
    assert sorted(re.findall(r"\(security\.(W\d+)\)", result.stderr)) == ["W004", "W008", "W012", "W016"]


def test_a_fresh_var_directory_and_its_database_are_private(tmp_path) -> None:
    var = tmp_path / "var"
    result = run_trunkline({"TRUNKLINE_VAR_DIR": str(var)}, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    assert oct(var.stat().st_mode & 0o777) == "0o700"
    files = {path.name: oct(path.stat().st_mode & 0o777) for path in var.iterdir() if path.is_file()}
    assert {"secret_key", "trunkline.sqlite3"} <= set(files)  # and SQLite's -wal/-shm while they exist
    assert files == dict.fromkeys(files, "0o600")


def test_an_existing_var_directory_and_database_are_made_private(tmp_path) -> None:
    tmp_path.chmod(0o755)
    database = tmp_path / "trunkline.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)
    settings_in_subprocess({"TRUNKLINE_VAR_DIR": str(tmp_path)}, "settings.DEBUG")
    assert (oct(tmp_path.stat().st_mode & 0o777), oct(database.stat().st_mode & 0o777)) == ("0o700", "0o600")
