"""Servers for the HTTP benchmarks, each started as its own process on loopback.

    python bench/_servers.py hello PORT        the baseline: a bare FastAPI hello-world
    python bench/_servers.py consent DIR PORT  the service, exactly as `consent serve` runs it

Both go through ``uvicorn.run`` with the settings ``consent serve`` uses (one worker,
``proxy_headers``, no server header, log level ``info``), so the ratio compares the
applications, not the server set-ups.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The keyword arguments of uvicorn.run in consent/cli/_server.py (serve), minus the app.
UVICORN_SETTINGS = {"workers": 1, "proxy_headers": True, "forwarded_allow_ips": None,
                    "server_header": False, "log_level": "info"}


def main() -> None:
    import uvicorn

    sys.path.insert(0, str(ROOT))
    kind = sys.argv[1]
    if kind == "hello":
        port = int(sys.argv[2])
        os.chdir(ROOT)
        uvicorn.run("bench._hello:create_app", factory=True, host="127.0.0.1", port=port,
                    **UVICORN_SETTINGS)  # type: ignore[arg-type]
    elif kind == "consent":
        from consent.cli import main as cli

        data_dir, port = sys.argv[2], sys.argv[3]
        sys.argv = ["consent", "serve", "--data-dir", data_dir, "--host", "127.0.0.1",
                    "--port", port]
        cli()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
