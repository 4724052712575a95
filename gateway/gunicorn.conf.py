"""gunicorn settings for the gateway. The address comes from the command line (`--bind`);
GATEWAY_WORKERS and GATEWAY_THREADS size it (defaults suit a small host)."""

import os
import shutil
import tempfile

# Threads, because a request mostly waits on TorchServe; two processes, so that one crashing
# worker never takes the page down.
worker_class = "gthread"
workers = int(os.environ.get("GATEWAY_WORKERS", 2))
threads = int(os.environ.get("GATEWAY_THREADS", 4))
timeout = 30
graceful_timeout = 5
keepalive = 5
accesslog = "-"
errorlog = "-"
wsgi_app = "gateway:create_app()"
# We stop gunicorn by its PID; its control socket would sit at one path in $HOME shared by every
# instance (`make serve`, each test's), so leave it off.
control_socket_disable = True
# Heartbeat files and metrics in memory where the host has it: the gateway writes nothing to disk.
SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
worker_tmp_dir = SHM


def on_starting(server):
    """Give prometheus_client's multiprocess mode a fresh directory, inherited by the workers
    (they import prometheus_client after the fork), unless the operator chose one."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        server.metrics_dir = tempfile.mkdtemp(prefix="gateway-metrics-", dir=SHM)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = server.metrics_dir


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if getattr(server, "metrics_dir", None):
        shutil.rmtree(server.metrics_dir, ignore_errors=True)
