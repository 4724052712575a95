"""Bring a database's schema to the newest revision of feedback/migrations, programmatically (no
alembic.ini). Run once before anything reads or writes: by the gateway's gunicorn master before it
starts its workers (gateway/gunicorn.conf.py), by the CLIs, and by the tests; never by the workers,
which would race each other.

    python -m feedback.migrate [--database-url URL] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import ArgumentError

from feedback import settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def upgrade(url: str, revision: str = "head") -> None:
    """Run every migration up to `revision`; a database already there is left as it is. Raises
    SQLAlchemy's errors (and OSError for a SQLite folder that cannot be made) when it cannot."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not parsed.query.get("uri"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def shown(url: str) -> str:
    """The URL without its password, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(a database URL that does not parse)"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    settings.add_database_options(p)
    args = p.parse_args(argv)
    url = settings.url_from_args(args)
    upgrade(url)
    print(f"{shown(url)}: schema up to date")


if __name__ == "__main__":
    main()
