"""The drawing page. Its script and styles are static files (see gateway/static)."""

from __future__ import annotations

from flask import Blueprint, render_template

from bengali_digit import DIGITS

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """The page where people draw a digit and see what the model reads."""
    return render_template("index.html", digits=DIGITS)
