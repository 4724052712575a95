"""Every failure is a JSON value `{"error": code, "message": sentence}`: never an HTML page or a
stack trace. Codes for bad input are the handler's own (bengali_digit.limits.STATUS_BY_CODE)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from bengali_digit.limits import PreprocessError
from gateway.upstream import Unavailable

bp = Blueprint("errors", __name__)
logger = logging.getLogger(__name__)


def error(status: int, code: str, message: str, **extra) -> tuple[Response, int]:
    return jsonify(error=code, message=message, **extra), status


@bp.app_errorhandler(PreprocessError)
def bad_input(err: PreprocessError):
    return error(err.status, err.code, err.message)


@bp.app_errorhandler(Unavailable)
def unavailable(err: Unavailable):
    response, status = error(503, "model_unavailable", "The model is not answering right now; try again shortly.",
                             reason=err.reason)
    response.headers["Retry-After"] = str(current_app.config["RETRY_AFTER"])
    return response, status


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(err: RequestEntityTooLarge):
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return error(413, "image_too_large", f"the request body is over the limit of {limit} bytes")


@bp.app_errorhandler(HTTPException)
def http_error(err: HTTPException):
    code = (err.name or "error").lower().replace(" ", "_").replace("'", "")
    response, status = error(err.code or 500, code, err.description or code)
    if err.code == 405 and err.valid_methods:  # what the client should have used
        response.headers["Allow"] = ", ".join(err.valid_methods)
    return response, status


@bp.app_errorhandler(Exception)
def unexpected(err: Exception):
    # Deliberately broad: this is the last line that keeps a traceback out of a response. The
    # traceback goes to the log instead, so that the bug gets fixed rather than hidden.
    logger.exception("unhandled error")
    return error(500, "internal_error", "Something went wrong in the gateway; it has been logged.")
