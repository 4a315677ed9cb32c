#!/bin/sh
# forum's periodic jobs (the schedule is BEAT_SCHEDULE in forum/jobs/__init__.py): exactly
# one beat for the whole installation, on any one machine; it only sends jobs to the queue,
# the workers run them. FORUM_BEAT_SCHEDULE_FILE is where beat remembers the last runs
# (default instance/celerybeat-schedule; systemd puts it in /var/lib/forum-beat).
set -eu
cd "$(dirname "$0")/.."
celery=${FORUM_CELERY:-.venv/bin/celery}
[ -x "$celery" ] || celery=celery
exec "$celery" -A wsgi:celery_app beat \
  --schedule "${FORUM_BEAT_SCHEDULE_FILE:-instance/celerybeat-schedule}" \
  --loglevel "${FORUM_LOG_LEVEL:-INFO}"
