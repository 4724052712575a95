"""A person's review of the corrections: list them, look at one, accept or reject it. Rejected ones
are left out of `make feedback-export`. Reads the database directly: works with the service stopped.

    python -m feedback.review list [--status new] [--limit 50]
    python -m feedback.review image ID OUT.png       # the drawing, to look at before judging
    python -m feedback.review accept ID [ID ...]
    python -m feedback.review reject ID [ID ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from feedback import settings
from feedback.migrate import shown, upgrade
from feedback.models import STATUSES, Correction
from feedback.store import Store, Unavailable

VERDICTS = {"accept": "accepted", "reject": "rejected"}


def line(row: Correction) -> str:
    predicted = "-" if row.predicted is None else row.predicted
    return (f"{row.id:>6}  {row.created_at:%Y-%m-%d %H:%M:%S}Z  label {row.label}  predicted {predicted}  "
            f"{row.status:<8}  model {row.model_version or '-'}  client {row.client[:8]}")


def run(store: Store, args: argparse.Namespace) -> int:
    """The command's output printed; the exit status."""
    if args.command == "list":
        rows = store.listing(args.status, args.limit)
        for row in rows:
            print(line(row))
        print(f"{len(rows)} shown (newest first)", file=sys.stderr)
        return 0
    if args.command == "image":
        row = store.get(args.id)
        if row is None:
            print(f"no correction {args.id}", file=sys.stderr)
            return 1
        args.out.write_bytes(row.image)
        print(f"correction {args.id} (label {row.label}) written to {args.out}")
        return 0
    missing = [id for id in args.ids if not store.review(id, VERDICTS[args.command])]
    for id in sorted(set(args.ids) - set(missing)):
        print(f"correction {id}: {VERDICTS[args.command]}")
    for id in missing:
        print(f"no correction {id}", file=sys.stderr)
    return 1 if missing else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    settings.add_database_options(p)
    commands = p.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the newest corrections")
    listing.add_argument("--status", choices=STATUSES, help="only these (default: all)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    image = commands.add_parser("image", help="write a correction's drawing to a file")
    image.add_argument("id", type=int)
    image.add_argument("out", type=Path)
    for verb in VERDICTS:
        commands.add_parser(verb, help=f"mark corrections {VERDICTS[verb]}").add_argument("ids", type=int, nargs="+")
    args = p.parse_args(argv)
    url = settings.url_from_args(args)
    store = Store(url)
    try:
        upgrade(url)
        return run(store, args)
    except (Unavailable, SQLAlchemyError, OSError) as err:
        sys.exit(f"cannot reach corrections at {shown(url)}: {err}")
    finally:
        store.dispose()


if __name__ == "__main__":
    sys.exit(main())
