"""The WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

from config import ConfigError
from forum import create_app

try:
    app = create_app()
except ConfigError as exc:
    # A bad setting stops the start with one line naming it, not a traceback.
    raise SystemExit(f"forum: configuration error: {exc}") from None

# The worker's entry point: `celery -A wsgi:celery_app worker` (see `make worker`).
celery_app = app.extensions["celery"]
