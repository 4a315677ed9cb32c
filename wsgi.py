"""The WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

import gc

from config import ConfigError
from forum import create_app

try:
    app = create_app()
except ConfigError as exc:
    # A bad setting stops the start with one line naming it, not a traceback.
    raise SystemExit(f"forum: configuration error: {exc}") from None

# What is built by now lives as long as the process: taken out of the garbage collector's
# view, it is not scanned again each time a request makes many objects (a slot search
# reads tens of thousands of busy times), which otherwise costs tens of milliseconds.
gc.collect()
gc.freeze()

# The worker's entry point: `celery -A wsgi:celery_app worker` (see `make worker`).
celery_app = app.extensions["celery"]
