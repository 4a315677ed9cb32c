"""Login timing benchmark: a wrong password for an unknown email beside one for a real account.

    python -m benchmarks.bench_login           # 30 attempts of each, interleaved
    python -m benchmarks.bench_login --quick   # 4 of each: a smoke test

One process, a fresh migrated SQLite database in a temporary folder, the real login route
through Flask's test client (rate limits and CSRF off: every attempt reaches the password
check). The time of a failed login must not tell whether the email has an account: the
target is an unknown email's median within 20 % of a real account's, measured in the same
run. The exit status is 1 when, on the full input, the target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

from benchmarks import report
from forum import create_app
from forum.accounts.services import create_organiser
from forum.extensions import db

TOLERANCE = 0.20
PASSWORD = "a-real-password"  # noqa: S105 (the benchmark's own account)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few attempts: a smoke test")
    args = parser.parse_args()
    attempts = 4 if args.quick else 30

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(folder) / "bench.sqlite3"),
                "MAIL_BACKEND": "memory",
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade()
            create_organiser(email="olga@example.org", name="Olga", password=PASSWORD)
            db.session.commit()
        client = app.test_client()

        def failed_login(email: str) -> float:
            started = time.perf_counter()
            response = client.post("/login", data={"email": email, "password": "wrong"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.status_code
            return elapsed

        failed_login("warm-up@example.org")
        known: list[float] = []
        unknown: list[float] = []
        for _ in range(attempts):
            known.append(failed_login("olga@example.org"))
            unknown.append(failed_login("nobody@example.org"))
        with app.app_context():
            db.engine.dispose()

    print(f"Failed logins, {attempts} of each, interleaved")
    print(report.describe("wrong password, real account", known, width=34))
    print(report.describe("wrong password, unknown email", unknown, width=34))
    ratio = statistics.median(unknown) / statistics.median(known)
    figure = f"unknown / real = {ratio:.2f}, allowed {1 - TOLERANCE:.2f} to {1 + TOLERANCE:.2f}"
    met = abs(ratio - 1) <= TOLERANCE
    return report.judge([("same time for unknown emails", met, figure)], quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
