"""What every benchmark here shares: run a measuring child process against a fresh database of each backend.

Settings read DATABASE_URL once, at import, so each backend gets its own process: SQLite in a temporary
TRUNKLINE_VAR_DIR, PostgreSQL in a scratch database created and dropped through the `postgres` database (never
the `test` database the suite uses).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def child_parser(doc: str, *, rows: int, rows_help: str) -> argparse.ArgumentParser:
    """The options every per-backend benchmark here takes (--rows, --backend, --keep) and the hidden ones
    run_child() passes to the measuring child; a script adds its own before parsing."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=rows, help=f"{rows_help} (default {rows})")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    return parser


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pg_url(database: str) -> str:
    return urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{database}"))


def pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def run_child(*, script: str, backend: str, database: str, child_args: list[str], keep: bool) -> dict[str, Any]:
    """Run `script --child --backend B ... --json-out FILE` against a fresh database; return its JSON result,
    or {"backend", "error"} when it could not run."""
    var_dir = Path(tempfile.mkdtemp(prefix=f"trunkline-bench-{backend}-"))
    json_out = var_dir / "results.json"
    env = {**os.environ, "TRUNKLINE_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    if backend == "postgres":
        try:
            pg_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            pg_admin(f"CREATE DATABASE {database}")
        except Exception as error:
            shutil.rmtree(var_dir, ignore_errors=True)
            return {"backend": backend, "error": f"PostgreSQL unavailable at {PG_ADMIN_URL}: {error}"}
        env["DATABASE_URL"] = pg_url(database)
    command = [sys.executable, str(Path(script).resolve()), "--child", "--backend", backend, *child_args,
               "--json-out", str(json_out)]
    try:
        completed = subprocess.run(command, env=env, cwd=ROOT, check=False)
        if completed.returncode != 0 or not json_out.exists():
            return {"backend": backend, "error": f"the benchmark process exited with {completed.returncode} "
                                                 f"(its traceback is above)"}
        return json.loads(json_out.read_text())
    finally:
        if keep:
            log(f"{backend}: kept {var_dir}" + (f" and database {database}" if backend == "postgres" else ""))
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
            if backend == "postgres":
                try:
                    pg_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                except Exception as error:
                    log(f"postgres: could not drop {database}: {error}")
