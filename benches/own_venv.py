"""Run a benchmark script inside a venv of its own, made on first use: peers and data generators
(Presidio, Faker) stay out of the test suite's environment and out of each other's."""

import os
import subprocess
import sys


def rerun_inside(venv, requirement, module, script):
    """Re-exec `script` with the venv's Python, creating the venv and installing `requirement`
    when `module` cannot be imported there. Returns only when already inside."""
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement], check=True)
    os.execv(python, [python, os.path.abspath(script)] + sys.argv[1:])
