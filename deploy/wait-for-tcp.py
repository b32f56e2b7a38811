"""Wait until HOST:PORT accepts TCP connections (deadline in seconds), then exec the command."""

import os
import socket
import sys
import time


def main() -> None:
    """wait-for-tcp HOST:PORT SECONDS -- COMMAND..."""
    target, seconds, _, *command = sys.argv[1:]
    host, port = target.rsplit(":", 1)
    deadline = time.monotonic() + float(seconds)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                sys.exit(
                    f"{target} did not accept connections within {seconds} s ({exc}); "
                    f"check `docker compose logs {host}`."
                )
            time.sleep(1)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
