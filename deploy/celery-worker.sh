#!/bin/sh
# forum's job worker: `sh deploy/celery-worker.sh` from the repository (systemd, Procfile and
# compose all start it so). Sized from the machine's cores unless the environment says:
#   FORUM_WORKER_CONCURRENCY  worker processes; default 2 per core. Jobs mostly wait on
#                             providers' APIs and the mail server, so two per core keep
#                             the cores busy; each process holds one database connection.
#   FORUM_WORKER_MAX_TASKS    jobs a process runs before it is replaced (default 1000).
# Each process takes one job at a time (prefetch 1): jobs are acknowledged after they ran
# (forum/jobs), so a job a process holds but has not started waits for nobody else.
#   FORUM_WORKER_NICE         CPU priority (nice, default 10). On a machine that also
#                             serves requests, the kernel then favours the web processes:
#                             a webhook must be answered within seconds (Zoom gives 3 s)
#                             and a calendar poll at once, while a job may wait; on a
#                             machine of its own the worker still takes every idle cycle.
set -eu
cd "$(dirname "$0")/.."
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
celery=${FORUM_CELERY:-.venv/bin/celery}
[ -x "$celery" ] || celery=celery
exec nice -n "${FORUM_WORKER_NICE:-10}" "$celery" -A wsgi:celery_app worker \
  --queues "${FORUM_JOBS_QUEUE:-forum}" \
  --concurrency "${FORUM_WORKER_CONCURRENCY:-$((cores * 2))}" \
  --prefetch-multiplier 1 \
  --max-tasks-per-child "${FORUM_WORKER_MAX_TASKS:-1000}" \
  --hostname "forum@%h" \
  --loglevel "${FORUM_LOG_LEVEL:-INFO}"
