#!/usr/bin/env python3
"""How fast the request log answers at a million rows (issue #16: "filters and paging that stay
fast at 1 million rows").

Starts a release control plane on a fresh store (SQLite, or PostgreSQL with --postgres URL),
makes a tenant and a project through the admin API, stops it, writes ROWS request rows for that
one project straight into the `requests` table (one project holding every row is the worst case
for its page), starts it again and times `GET /admin/v1/requests` pages: the newest page, a page
from the middle, and each filter — key source (2% pooled), outcome (0.5% errors), a model 0.1% of
rows use, a model no row uses (the whole range is read: the worst case), one Warden key, the
tenant. Each is asked REPEAT times; the median and the slowest are printed, with the rows read.

    python3 benches/request_log.py [--rows 1000000] [--postgres postgresql://…/db]

The rows are synthetic (a fixed seed); what is measured is the store's reading, not the data."""

import argparse
import json
import os
import pathlib
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "warden-controlplane"
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gemini-2.0-flash"]
COLUMNS = ("dataplane, request_id, at_us, tenant, project, status, provider, model, key_source, "
           "cache, attempts, input_tokens, output_tokens, cached_tokens, api_key, latency_us, "
           "first_byte_us, error, verdicts")


def start(config):
    proc = subprocess.Popen([str(BIN), "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "WARDEN_LOG": "warn"})
    line = proc.stdout.readline()
    addr = line[line.index("http://"):].split()[0].rstrip(",)")
    return proc, addr


def call(base, token, method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("authorization", f"Bearer {token}")
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def rows(n, tenant, project, keys):
    rng = random.Random(1616)
    now_us = int(time.time() * 1e6)
    span = 29 * 86_400 * 1_000_000
    for i in range(n):
        failed = rng.random() < 0.005
        model = "o3-rare" if rng.random() < 0.001 else rng.choice(MODELS)
        verdicts = '[{"category":"pii","detector":"email","action":"redact","count":1}]' \
            if rng.random() < 0.03 else "[]"
        yield ("dp1", f"req-{i:08d}", now_us - span + i * span // n, tenant, project,
               502 if failed else 200, "openai", model,
               "pooled" if rng.random() < 0.02 else "byok", "",
               '[{"provider":"openai","key_id":"pk_1","key_source":"byok","outcome":"ok","status":200}]',
               rng.randrange(10, 4000), rng.randrange(1, 800), 0, keys[i % len(keys)],
               rng.randrange(200_000, 3_000_000), 0, "upstream_error" if failed else "", verdicts)


def fill_sqlite(db, batch):
    con = sqlite3.connect(db)
    con.executemany(f"INSERT INTO requests ({COLUMNS}) VALUES ({', '.join('?' * 19)})", batch)
    con.commit()
    con.close()


def fill_postgres(url, batch):
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        for r in batch:
            f.write("\t".join(str(v) for v in r) + "\n")
    subprocess.run(["psql", url, "-q", "-c", f"\\copy requests ({COLUMNS}) FROM '{f.name}'"], check=True)
    os.unlink(f.name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--postgres", help="a database URL (its tables are dropped and made anew)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        config = tmp / "cp.toml"
        store = f'database_url = "{args.postgres}"\n' if args.postgres else ""
        config.write_text(f'listen = "127.0.0.1:0"\ndata_dir = "{tmp / "data"}"\n{store}')
        if args.postgres:
            subprocess.run(["psql", args.postgres, "-q", "-c",
                            "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"], check=True)
        proc, base = start(config)
        token = (tmp / "data" / "admin-token").read_text().strip()
        tenant = call(base, token, "POST", "/admin/v1/tenants", {"name": "big", "plan": "team"})["id"]
        project = call(base, token, "POST", f"/admin/v1/tenants/{tenant}/projects",
                       {"name": "busy", "environment": "production"})["id"]
        keys = [call(base, token, "POST", f"/admin/v1/projects/{project}/api-keys", {"name": f"k{i}"})["id"]
                for i in range(4)]
        proc.terminate()
        proc.wait()
        began = time.monotonic()
        batch = list(rows(args.rows, tenant, project, keys))
        if args.postgres:
            fill_postgres(args.postgres, batch)
            subprocess.run(["psql", args.postgres, "-q", "-c", "ANALYZE requests"], check=True)
        else:
            fill_sqlite(tmp / "data" / "warden.db", batch)
        print(f"{args.rows} rows written in {time.monotonic() - began:.1f} s "
              f"({'PostgreSQL' if args.postgres else 'SQLite'})")
        middle = batch[len(batch) // 2][2]
        proc, base = start(config)
        try:
            cases = [
                ("newest page (50)", f"project={project}&limit=50"),
                ("page from the middle", f"project={project}&limit=50&before_us={middle}"),
                ("key_source=pooled (2%)", f"project={project}&limit=50&key_source=pooled"),
                ("outcome=error (0.5%)", f"project={project}&limit=50&outcome=error"),
                ("model 0.1% of rows", f"project={project}&limit=50&model=o3-rare"),
                ("model no row has", f"project={project}&limit=50&model=none-such"),
                ("one Warden key", f"api_key={keys[1]}&limit=50"),
                ("the tenant's newest", f"tenant={tenant}&limit=50"),
                ("1000 rows", f"project={project}&limit=1000"),
            ]
            print(f"{'query':<26} {'rows':>5} {'median ms':>10} {'max ms':>8}")
            for name, query in cases:
                took = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    got = call(base, token, "GET", f"/admin/v1/requests?{query}")["requests"]
                    took.append((time.perf_counter() - t) * 1000)
                print(f"{name:<26} {len(got):>5} {statistics.median(took):>10.1f} {max(took):>8.1f}")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
