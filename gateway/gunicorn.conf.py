"""gunicorn settings for the gateway. The address comes from the command line (`--bind`);
GATEWAY_WORKERS and GATEWAY_THREADS size it (defaults suit a small host); GATEWAY_ACCESS_LOG=-
turns on the access log (to stdout, or give a file)."""

import os
import shutil
import tempfile

# Threads, because a request mostly waits on TorchServe: 16 per process keep enough requests in
# flight for TorchServe to fill its batches (fewer starve them: docs/benchmarks.md, gateway sizes);
# two processes, so that one crashing worker never takes the page down.
worker_class = "gthread"
workers = int(os.environ.get("GATEWAY_WORKERS", 2))
threads = int(os.environ.get("GATEWAY_THREADS", 16))
timeout = 30
graceful_timeout = 5
keepalive = 5
# No access log by default: writing it costs a share of the gateway's time under load (docs/benchmarks.md,
# where the time goes), and /metrics already counts requests by status and times them
# (GATEWAY_ACCESS_LOG=- to turn it on).
accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None
errorlog = "-"
wsgi_app = "gateway:create_app()"
# We stop gunicorn by its PID; its control socket would sit at one path in $HOME shared by every
# instance (`make serve`, each test's), so leave it off.
control_socket_disable = True
# Heartbeat files and metrics in memory where the host has it: the gateway writes nothing to disk
# but corrections (into their database).
SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
worker_tmp_dir = SHM


def on_starting(server):
    """Give prometheus_client's multiprocess mode a fresh directory, inherited by the workers
    (they import prometheus_client after the fork), unless the operator chose one."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        server.metrics_dir = tempfile.mkdtemp(prefix="gateway-metrics-", dir=SHM)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = server.metrics_dir
    migrate_feedback(server)


def migrate_feedback(server):
    """The corrections' schema brought up to date once, here in the master before any worker
    exists, so that workers never race to migrate. A database that is down is no reason not to
    serve predictions: say so and go on; /api/feedback answers 503 until it is migrated (this
    hook at the next start, or `python -m feedback.migrate`)."""
    from feedback import settings
    from feedback.migrate import shown, upgrade

    url = settings.database_url(os.environ.get("BDR_DATABASE_URL"),
                                settings.data_dir(os.environ.get("BDR_FEEDBACK_DIR")))
    try:
        upgrade(url)
    except Exception as err:  # any failure of any database driver: the gateway starts regardless
        server.log.warning("corrections database %s not migrated, /api/feedback will answer 503: %s",
                           shown(url), str(err).splitlines()[0] if str(err) else type(err).__name__)


# gunicorn drains at most 64 KiB of a request body the app left unread (a body over the size limit
# is refused unread; so is one sent with a wrong path, method or type) and past that closes the
# connection, after a response that said keep-alive: the client's next request on it is dropped
# (the soak found it: docs/reliability.md). Larger bodies, and bodies of unknown length, get
# "Connection: close" with their answer instead. The drawing page's PNGs are far smaller.
DRAIN_LIMIT = 64 * 1024


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)  # what gunicorn's own hook does
    for name, value in req.headers:
        if name == "TRANSFER-ENCODING" or (name == "CONTENT-LENGTH" and value.isdigit()
                                           and int(value) > DRAIN_LIMIT):
            req.force_close()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if getattr(server, "metrics_dir", None):
        shutil.rmtree(server.metrics_dir, ignore_errors=True)
