#!/usr/bin/env python3
"""Fill a control plane's store in bulk, for measuring Warden at scale (issue #18: a million keys).

Adds KEYS Warden keys spread over PROJECTS projects (ten per tenant), each project with one
OpenAI provider key, straight into the store's tables — far faster than the admin API, which
would take hours at a million keys. Every Warden key is a real one: `wdn_bulk_<i, 7 digits>`
authenticates (its digest is keyed with the control plane's `api-key-digest.key`, as the admin API
would key it). The provider keys reuse the sealed bytes of one key already in the store (make one
through the admin API first): snapshots carry them and data planes take them, but they do not
open for the bulk projects, so send traffic through the project the admin API made.

    python3 scripts/fill_store.py --data-dir DIR --sqlite DIR/warden.db --keys 1000000
    python3 scripts/fill_store.py --data-dir DIR --postgres URL --keys 1000000   (needs psql)

The rows are stamped as the control plane's own writes are (one new `meta.row_seq`, taken in
the rows' transaction under the store's write lock), so a running control plane's next build
reads them. The control plane may be running (SQLite waits for its lock; PostgreSQL copies in one
transaction); make any change through the admin API afterwards so that it publishes.
"""

import argparse
import csv
import hashlib
import hmac
import os
import sqlite3
import subprocess
import sys
import tempfile
import time


BUMP = "INSERT INTO meta (name, value) VALUES ('row_seq', 1) ON CONFLICT (name) DO UPDATE SET value = meta.value + 1 RETURNING value"
TABLES = ("tenants", "projects", "provider_keys", "api_keys")
# The store's write lock on PostgreSQL (controlplane/src/store.rs, WRITE_LOCK).
WRITE_LOCK = 0x5752444E00000001


def rows(args, secret, sealed):
    """Each table's rows, without their stamp (the `seq` column, set by the caller)."""
    now = int(time.time())
    projects = args.projects or max(1, args.keys // 10)
    tenants = [(f"ten_bulk_{t:06d}", f"bulk tenant {t}", "team", now) for t in range((projects + 9) // 10)]
    project_rows = [
        (f"prj_bulk_{p:06d}", f"ten_bulk_{p // 10:06d}", f"bulk {p}", "production", now)
        for p in range(projects)
    ]
    master_key_id, nonce, ciphertext = sealed
    provider_keys = [
        (f"pk_bulk_{p:06d}", f"prj_bulk_{p:06d}", "openai", "bulk", 0, "bulk", master_key_id, nonce, ciphertext, now)
        for p in range(projects)
    ]

    def api_key(i):
        plain = hashlib.sha256(f"wdn_bulk_{i:07d}".encode()).digest()
        digest = hmac.new(secret, plain, hashlib.sha256).hexdigest()
        # Spread over the projects the way keys are made: not grouped by project.
        return (f"key_bulk_{i:07d}", f"prj_bulk_{(i * 7919) % projects:06d}", "bulk", digest, "bulk", now, 1)

    api_keys = (api_key(i) for i in range(args.keys))
    return [
        ("tenants", "id, name, plan, created_at", tenants),
        ("projects", "id, tenant_id, name, environment, created_at", project_rows),
        (
            "provider_keys",
            "id, project_id, provider, label, priority, fingerprint, master_key_id, nonce, ciphertext, created_at",
            provider_keys,
        ),
        ("api_keys", "id, project_id, name, key_hash, hint, created_at, keyed", api_keys),
    ]


def sealed_template_sqlite(db):
    row = db.execute("SELECT master_key_id, nonce, ciphertext FROM provider_keys LIMIT 1").fetchone()
    if row is None:
        sys.exit("the store has no provider key to copy the sealed form of: add one through the admin API first")
    return row


def fill_sqlite(args, secret):
    db = sqlite3.connect(args.sqlite, timeout=60)
    sealed = sealed_template_sqlite(db)
    with db:
        # The rows' stamp, taken first in their transaction (the write lock is held from here):
        # the control plane's leader reads rows by stamp (controlplane/src/store/rows.rs).
        (seq,) = db.execute(BUMP).fetchone()
        for table, columns, values in rows(args, secret, sealed):
            marks = ", ".join("?" for _ in columns.split(","))
            stamped = (row + (seq,) for row in values)
            db.executemany(f"INSERT INTO {table} ({columns}, seq) VALUES ({marks}, ?)", stamped)
    db.close()


def psql(url, *extra):
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", *extra], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return out.stdout


def fill_postgres(args, secret):
    line = psql(args.postgres, "-c", "SELECT master_key_id, nonce, ciphertext FROM provider_keys LIMIT 1").strip()
    if not line:
        sys.exit("the store has no provider key to copy the sealed form of: add one through the admin API first")
    master_key_id, nonce, ciphertext = line.split("|")
    with tempfile.TemporaryDirectory() as tmp:
        # The stamp is taken under the store's write lock in the same transaction as the rows.
        script = ["BEGIN;", f"SELECT pg_advisory_xact_lock({WRITE_LOCK});", BUMP + " \\gset"]
        for table, columns, values in rows(args, secret, (int(master_key_id), nonce, ciphertext)):
            path = os.path.join(tmp, f"{table}.csv")
            with open(path, "w", newline="") as f:
                csv.writer(f).writerows(values)
            script.append(f"\\copy {table} ({columns}) FROM '{path}' WITH (FORMAT csv)")
        for table in TABLES:
            script.append(f"UPDATE {table} SET seq = :value WHERE seq = 0;")
        script.append("COMMIT;")
        with open(os.path.join(tmp, "fill.sql"), "w") as f:
            f.write("\n".join(script) + "\n")
        psql(args.postgres, "-f", os.path.join(tmp, "fill.sql"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, help="the control plane's data_dir (for api-key-digest.key)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="the store's SQLite file")
    where.add_argument("--postgres", help="the store's PostgreSQL URL")
    p.add_argument("--keys", type=int, required=True)
    p.add_argument("--projects", type=int, default=0, help="default: a tenth of --keys")
    args = p.parse_args()
    with open(os.path.join(args.data_dir, "api-key-digest.key"), "rb") as f:
        secret = f.read()
    started = time.monotonic()
    if args.sqlite:
        fill_sqlite(args, secret)
    else:
        fill_postgres(args, secret)
    print(f"filled {args.keys} keys in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
