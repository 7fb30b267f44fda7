"""``uvicorn --factory api.app:factory --workers 2`` over a real instance (issue 5, item 6).

Sessions, sign-in challenges, TOTP steps and throttles live in the database, and the API
secret in the data directory, so any worker may serve any step of a sign-in.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api._totp import code_at, step_at
from consent import Database, init_instance
from tests.api.conftest import PASSWORD


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(database: Database, tmp_path: Path) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path / "instance"
    service, invitation = init_instance(data_dir, database_url=database.url,
                                        env={"CONSENT_DATABASE_URL": database.url})
    service.db.dispose()
    port = _free_port()
    env = {**os.environ, "CONSENT_DATA_DIR": str(data_dir),
           "CONSENT_DATABASE_URL": database.url}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:factory", "--workers", "2",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the server did not start: "
                                     + (process.stderr.read().decode()[-2000:]
                                        if process.stderr else ""))
            time.sleep(0.2)
        yield base, invitation
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.mark.slow
def test_two_workers_share_sign_in_sessions_and_throttles(served: tuple[str, str]) -> None:
    base, invitation = served
    with httpx.Client(base_url=base, timeout=30) as client:
        started = client.post("/v1/auth/enroll",
                              json={"invitation": invitation, "password": PASSWORD})
        assert started.status_code == 200, started.text
        secret = started.json()["secret"]
        step = step_at(dt.datetime.now(dt.UTC))
        confirmed = client.post("/v1/auth/enroll/confirm",
                                json={"invitation": invitation, "code": code_at(secret, step)})
        assert confirmed.status_code == 200, confirmed.text
        mfa = client.post("/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert mfa.status_code == 200
        # The confirmation used this step: the next one is the first that signs in.
        token = client.post("/v1/auth/totp", json={
            "mfa_token": mfa.json()["mfa_token"], "code": code_at(secret, step + 1)})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # Many requests over fresh connections land on both workers; all see the session.
        for number in range(20):
            with httpx.Client(base_url=base, timeout=30) as fresh:
                assert fresh.get("/v1/users", headers=headers).status_code == 200, number
        # Throttling is counted in the database, whichever worker answers.
        statuses = []
        for _ in range(12):
            with httpx.Client(base_url=base, timeout=30) as fresh:
                statuses.append(fresh.post("/v1/auth/login", json={
                    "username": "admin", "password": "not the password"}).status_code)
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429, 429]
        assert client.post("/v1/auth/logout", headers=headers).status_code == 204
        with httpx.Client(base_url=base, timeout=30) as fresh:
            assert fresh.get("/v1/users", headers=headers).status_code == 401
