"""A probe for the injection classifier's accurate tier: NanoGuard, a small transformer trained
for prompt injection, as published.

    models/.venv/bin/python models/probe_nanoguard.py [--binary target/debug/warden-dataplane]
                                                      [--unpadded] [--held-out] [--cache FILE]

NanoGuard (PyPI `metatronnanoguard` 0.1.0, MIT, 2026-03) is a 4-layer bidirectional transformer
(d 512, 4 heads, rotary positions, ReLU² MLP, mean pooling, 16.8 M parameters) over an 8 192-token
byte-level BPE, trained by its author on 21 804 examples of 11 public datasets it does not name;
its weights (`nanoguard/assets/model.pt`) and tokenizer (`tokenizer.pkl`) are in the wheel,
pinned here by SHA-256. The package runs it with PyTorch; this probe re-implements the forward pass
in NumPy (no PyTorch), reading the checkpoint and the tokenizer with unpicklers that build nothing
but tensors and the tokenizer's tables, and scores each text the way the package's `scan` does:
a BOS token, at most 512 tokens, padded to 512 (the model's attention takes no mask, so the
padding is part of the input it was trained on). `--unpadded` scores the real tokens only — a
cheaper variant whose scores differ; it is measured, not assumed equal.

Without --held-out it reads no held-out data: on the validation fifth of the training corpora
(train.py's split) it prints NanoGuard's recall and false-positive rate per channel at its own
0.5 and at the threshold that flags 2 % of validation's benign text, and the rules that combine
it with the shipped model; then how many of the 650 benign requests from elsewhere
(models/false_positives.py) each flags. With --held-out it also scores bastioncorpus 0.6.0 with
thresholds taken from validation only. Scores are kept in `--cache` (JSON, keyed by text) so a
second reading costs nothing and no text is scored twice.
"""

import argparse
import hashlib
import json
import os
import pickle
import sys
import time
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpora  # noqa: E402
import evaluate  # noqa: E402
import false_positives  # noqa: E402
from probe_embedding import (flagged, held_out, held_out_line, logit,  # noqa: E402
                             per_channel, validation)

PACKAGE = ("metatronnanoguard", "0.1.0", "MIT")
WHEEL_SHA256 = "615c7a6836a2f3ec1227c7aae4136e22b5d36de0bf5bbed95b8278e0e48374e2"


# ---- reading the wheel without running its pickles' code ------------------------------------

class _Storage:
    def __init__(self, key, dtype):
        self.key, self.dtype = key, dtype


_DTYPES = {"FloatStorage": "f4", "BFloat16Storage": "bf16", "LongStorage": "i8"}


def load_checkpoint(raw):
    """The checkpoint's dict of config and tensors, as float32 NumPy arrays."""
    z = zipfile.ZipFile(raw)
    prefix = z.namelist()[0].split("/")[0]

    def rebuild(storage, offset, size, stride, *_):
        data = z.read(f"{prefix}/data/{storage.key}")
        if storage.dtype == "bf16":
            arr = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(data, storage.dtype)
        if not size:
            return arr[offset]
        strides = [s * arr.itemsize for s in stride]
        return np.lib.stride_tricks.as_strided(arr[offset:], shape=size, strides=strides).copy()

    allowed = {("torch._utils", "_rebuild_tensor_v2"): rebuild,
               ("torch._utils", "_rebuild_parameter"): lambda t, *_: t,
               ("collections", "OrderedDict"): dict}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch" and name in _DTYPES:
                return name
            if (module, name) in allowed:
                return allowed[(module, name)]
            raise pickle.UnpicklingError(f"checkpoint names {module}.{name}")

        def persistent_load(self, pid):
            _, kind, key, _, _ = pid
            return _Storage(key, _DTYPES[kind])

    return Reader(z.open(f"{prefix}/data.pkl")).load()


def load_tokenizer(raw):
    """tiktoken's Encoding from the pickled one, built from its tables only."""
    import tiktoken

    class Tables:
        """Stands in for tiktoken's Encoding while unpickling: keeps the state it is given."""

        def __setstate__(self, state):
            self.state = state

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("tiktoken.core", "Encoding"):
                return Tables
            raise pickle.UnpicklingError(f"tokenizer names {module}.{name}")

    state = Reader(raw).load().state
    return tiktoken.Encoding(name=state["name"], pat_str=state["pat_str"],
                             mergeable_ranks=state["mergeable_ranks"],
                             special_tokens=state["special_tokens"])


# ---- the forward pass ----------------------------------------------------------------------

def _rms(x):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + np.finfo(np.float32).eps)


def _bf16(a):
    """Round float32 to bfloat16 (to nearest even), as the package stores its rotary tables."""
    u = a.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).view(np.float32)


class NanoGuard:
    def __init__(self, wheel_path):
        w = zipfile.ZipFile(wheel_path)
        ck = load_checkpoint(w.open("nanoguard/assets/model.pt"))
        self.enc = load_tokenizer(w.open("nanoguard/assets/tokenizer.pkl"))
        self.cfg = ck["config"]
        self.w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in ck["model_state_dict"].items()}
        self.bos = self.enc.encode_single_token("<|reserved_0|>")
        self.pad = self.enc.encode_single_token("<|reserved_1|>")
        hd = self.cfg["n_embd"] // self.cfg["n_head"]
        inv = 1.0 / (10000 ** (np.arange(0, hd, 2, dtype=np.float32) / hd))
        f = np.outer(np.arange(self.cfg["sequence_len"] * 2, dtype=np.float32), inv)
        self.cos, self.sin = _bf16(np.cos(f)), _bf16(np.sin(f))

    def ids(self, text):
        return ([self.bos] + self.enc.encode_ordinary(text))[: self.cfg["sequence_len"]]

    def scores(self, batch_ids, padded):
        """Injection probability of each token list; one length per batch."""
        w = self.w
        logits = self.pooled(batch_ids, padded) @ w["cls_head.weight"].T + w["cls_head.bias"]
        return 1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))

    def pooled(self, batch_ids, padded):
        """The representation the classification head reads: the tokens' mean, normalised."""
        c, w = self.cfg, self.w
        n = np.array([len(i) for i in batch_ids])
        t = c["sequence_len"] if padded else int(n.max())
        ids = np.array([i + [self.pad] * (t - len(i)) for i in batch_ids])
        b, h, d = len(ids), c["n_head"], c["n_embd"]
        hd = d // h
        x = _rms(w["transformer.wte.weight"][ids])
        x0 = x
        cos, sin = self.cos[None, :t, None, :], self.sin[None, :t, None, :]

        def rope(q):
            a, bb = q[..., : hd // 2], q[..., hd // 2:]
            return np.concatenate([a * cos + bb * sin, a * -sin + bb * cos], -1)

        for i in range(c["n_layer"]):
            p = f"transformer.h.{i}."
            x = w["resid_lambdas"][i] * x + w["x0_lambdas"][i] * x0
            y = _rms(x)
            q, k, v = (np.matmul(y, w[p + f"attn.c_{m}.weight"].T).reshape(b, t, h, hd) for m in "qkv")
            q, k = _rms(rope(q)).transpose(0, 2, 1, 3), _rms(rope(k)).transpose(0, 2, 1, 3)
            s = np.matmul(q, k.transpose(0, 1, 3, 2)) / np.sqrt(hd)
            if not padded:  # unpadded batches: keep each text's attention on its own tokens
                s = np.where(np.arange(t)[None, None, None, :] < n[:, None, None, None], s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            y = np.matmul(s, v.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3).reshape(b, t, d)
            x = x + np.matmul(y, w[p + "attn.c_proj.weight"].T)
            y = np.maximum(np.matmul(_rms(x), w[p + "mlp.c_fc.weight"].T), 0) ** 2
            x = x + np.matmul(y, w[p + "mlp.c_proj.weight"].T)
        x = _rms(x)
        mask = (np.arange(t)[None, :] < n[:, None]).astype(np.float32)[..., None]
        pooled = (x * mask).sum(1) / n[:, None]
        mu, var = pooled.mean(-1, keepdims=True), pooled.var(-1, keepdims=True)
        return (pooled - mu) / np.sqrt(var + 1e-5) * w["cls_norm.weight"] + w["cls_norm.bias"]


def score_all(model, texts, padded, cache):
    """Scores of `texts`, from `cache` where scored before; batches of like lengths."""
    key = "padded" if padded else "unpadded"
    known = cache.setdefault(key, {})
    todo = sorted({t for t in texts if t not in known}, key=lambda t: len(model.ids(t)))
    start, done = time.perf_counter(), 0
    size = 8 if padded else 32
    for at in range(0, len(todo), size):
        chunk = todo[at: at + size]
        for t, s in zip(chunk, model.scores([model.ids(t) for t in chunk], padded)):
            known[t] = float(s)
        done += len(chunk)
        if done % (size * 25) < size:
            print(f"  {key}: {done}/{len(todo)} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return np.array([known[t] for t in texts])


def represent_all(model, texts, path):
    """The pooled representation of `texts` (unpadded), kept in `path` (.npz) between runs."""
    known = {}
    if os.path.exists(path):
        with np.load(path) as z:
            known = dict(zip(json.loads(str(z["texts"])), z["vectors"]))
    todo = sorted({t for t in texts if t not in known}, key=lambda t: len(model.ids(t)))
    start = time.perf_counter()
    for at in range(0, len(todo), 32):
        chunk = todo[at: at + 32]
        known.update(zip(chunk, model.pooled([model.ids(t) for t in chunk], False)))
        if (at // 32) % 50 == 49:
            print(f"  represented {at + len(chunk)}/{len(todo)} in "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    if todo:
        names = sorted(known)
        np.savez(path, texts=json.dumps(names), vectors=np.array([known[t] for t in names]))
    return np.array([known[t] for t in texts], dtype=np.float64)


def fit_head(model, examples, is_val, path):
    """A logistic regression over the pooled representation, trained on the training part;
    C picked by validation recall at 2 % per channel. Returns a scorer of texts (logits)."""
    from sklearn.linear_model import LogisticRegression
    x = represent_all(model, [e.text for e in examples], path)
    y = np.array([e.label for e in examples])
    ch = np.array([e.channel for e in examples])
    best = None
    for c in (0.1, 0.3, 1.0, 3.0, 10.0):
        m = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        m.fit(x[~is_val], y[~is_val])
        s = m.decision_function(x[is_val])
        recall = float(np.mean(flagged(s, ch[is_val], per_channel(s, y[is_val], ch[is_val], 0.02))[y[is_val] == 1]))
        print(f"  head C={c}: validation recall at 2 % {recall:.3f}", file=sys.stderr)
        if best is None or recall > best[0]:
            best = (recall, m)
    head = best[1]
    return lambda texts: head.decision_function(represent_all(model, texts, path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/warden-dataplane")
    ap.add_argument("--unpadded", action="store_true", help="score the real tokens only")
    ap.add_argument("--held-out", action="store_true", help="score bastioncorpus too")
    ap.add_argument("--head", action="store_true", help="a head trained on the corpora over its "
                    "pooled representation, in place of its own (unpadded only)")
    ap.add_argument("--cache", default=os.path.join(os.path.dirname(corpora.CACHE), "nanoguard-scores.json"))
    args = ap.parse_args()
    padded = not args.unpadded

    corpora.fetch([PACKAGE])
    path = corpora.wheel_path(*PACKAGE[:2])
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"{os.path.basename(path)} sha256 {digest}", file=sys.stderr)
    if digest != WHEEL_SHA256:
        raise SystemExit("metatronnanoguard wheel changed")
    model = NanoGuard(path)
    cache = {}
    if os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)

    def save():
        with open(args.cache, "w") as f:
            json.dump(cache, f)

    everything, is_val, y, ch, texts = validation()
    if args.head:
        if padded:
            raise SystemExit("--head needs --unpadded")
        score = fit_head(model, everything, is_val,
                         os.path.join(os.path.dirname(corpora.CACHE), "nanoguard-pooled.npz"))
        label = "head on NanoGuard"
    else:
        def score(batch):
            out = logit(score_all(model, batch, padded, cache))
            save()
            return out
        label = "NanoGuard"
    ng = score(texts)
    fast = logit([r["injection_score"] for r in corpora.guard(args.binary, ["scan"], texts)])
    shipped = {k: logit(v) for k, v in
               evaluate.thresholds(os.path.join(corpora.HERE, "injection.bin")).items()}
    own = {"user": 0.0, "tool": 0.0}
    t2 = per_channel(ng, y, ch, 0.02)
    t1, tf1 = per_channel(ng, y, ch, 0.01), per_channel(fast, y, ch, 0.01)
    rules = {
        f"{label} at its 0.5": lambda s, f, c: flagged(s, c, own),
        f"{label} at 2 % per channel": lambda s, f, c: flagged(s, c, t2),
        "either, 1 % each": lambda s, f, c: flagged(s, c, t1) | flagged(f, c, tf1),
        "shipped model, shipped thresholds": lambda s, f, c: flagged(f, c, shipped),
    }

    def line(name, hit, yy, cc):
        parts = [f"{c}: recall {float(np.mean(hit[(cc == c) & (yy == 1)])):.3f}, "
                 f"FPR {float(np.mean(hit[(cc == c) & (yy == 0)])):.3f}" for c in ("user", "tool")]
        return (f"{name:36} recall {float(np.mean(hit[yy == 1])):.3f}, "
                f"FPR {float(np.mean(hit[yy == 0])):.3f} ({'; '.join(parts)})")

    for name, rule in rules.items():
        print(line(name, rule(ng, fast, ch), y, ch))
    print(f"{label} thresholds at 2 %: "
          + str({c: round(float(1 / (1 + np.exp(-v))), 4) for c, v in t2.items()}))

    rows = false_positives.requests()
    rtexts = [t for _, t in rows]
    rn = score(rtexts)
    rfast = logit(evaluate.scores(args.binary, rtexts))
    user = np.array(["user"] * len(rtexts))
    for name, rule in rules.items():
        print(f"{name:36} flags {int(rule(rn, rfast, user).sum())}/{len(rtexts)} benign requests")

    if not args.held_out:
        return
    hrows, hy, hch, htexts = held_out()
    hn = score(htexts)
    hfast = logit(evaluate.scores(args.binary, htexts))
    print(f"held out: bastioncorpus 0.6.0 ({len(hrows)} rows)")
    for name, rule in rules.items():
        print(held_out_line(name, rule(hn, hfast, hch), hy, hch))

if __name__ == "__main__":
    main()
