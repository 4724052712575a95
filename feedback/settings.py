"""Where corrections are kept: the database URL and the data folder, read the same way by the
gateway (BDR_* settings), its gunicorn master and the CLIs; and the salt that hashes clients."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bengali_digit.catalog import ROOT, SERVICE_DATA

DEFAULT_DIR = SERVICE_DATA  # kept by `make stop`, `make serve` and `make clean`; gitignored
DATABASE_FILE = "feedback.sqlite3"
SALT_FILE = "feedback-salt"


def data_dir(configured: str | os.PathLike | None) -> Path:
    return Path(configured) if configured else DEFAULT_DIR


def database_url(configured: str | None, directory: Path) -> str:
    """BDR_DATABASE_URL as given, or the embedded SQLite file in the data folder."""
    return configured or f"sqlite:///{directory / DATABASE_FILE}"


def salt(configured: str | None, directory: Path) -> bytes:
    """FEEDBACK_SALT, or a random one made once and kept in the data folder, so that a client's hash
    stays the same across restarts. OSError when the folder cannot be written."""
    if configured:
        return configured.encode()
    path = directory / SALT_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: several gunicorn workers may get here at once, and
        # a link either creates the file whole or finds the one another worker made.
        draft = directory / f".{SALT_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode()


def client_hash(salt: bytes, address: str) -> str:
    """HMAC-SHA256 of the client's address: the same client gets the same hash, and the address
    cannot be read back from it without the salt. The address itself is never stored."""
    return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """--database-url and --data-dir, defaulting to the gateway's own settings."""
    parser.add_argument("--database-url", default=os.environ.get("BDR_DATABASE_URL"),
                        help="(default: $BDR_DATABASE_URL, else the SQLite file in the data folder)")
    parser.add_argument("--data-dir", type=Path, default=data_dir(os.environ.get("BDR_FEEDBACK_DIR")),
                        help=f"(default: $BDR_FEEDBACK_DIR or {DEFAULT_DIR.relative_to(ROOT)}/)")


def url_from_args(args: argparse.Namespace) -> str:
    return database_url(args.database_url, args.data_dir)
