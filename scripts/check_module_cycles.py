#!/usr/bin/env python3
"""No import circles in the data plane (issue #20): every module of dataplane/src may depend on
others in one direction only. A module depends on another when its non-test code names it
(`crate::a::b`, `super::x`, `use child::…`); a parent declaring its children (`mod x;`) is not a
dependency. Prints each circle found, file by file, and exits 1; exits 0 when there is none.

    python3 scripts/check_module_cycles.py [SRC_DIR]     # default dataplane/src
"""

import os
import re
import sys


def modules(root):
    """Module path (`proxy::attempt`) -> its source without `#[cfg(test)]` parts or comments."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)[:-3].replace(os.sep, "::")
            if rel in ("lib", "main") or rel.endswith("_tests") or rel.endswith("::tests"):
                continue
            with open(path, encoding="utf-8") as f:
                src = f.read()
            src = src.split("#[cfg(test)]")[0]
            src = re.sub(r"//[^\n]*", "", src)
            out[rel] = src
    return out


def dependencies(mods):
    names = set(mods)
    graph = {}
    for m, src in mods.items():
        deps = set()
        for ref in re.findall(r"crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", src):
            parts = ref.split("::")
            for i in range(len(parts), 0, -1):
                candidate = "::".join(parts[:i])
                if candidate in names:
                    deps.add(candidate)
                    break
        parent = "::".join(m.split("::")[:-1])
        for ref in re.findall(r"\bsuper::([a-z_][a-z0-9_]*)", src):
            candidate = f"{parent}::{ref}" if parent else ref
            if candidate in names:
                deps.add(candidate)
            elif parent in names:
                deps.add(parent)
        for ref in re.findall(r"^\s*(?:pub(?:\([a-z]+\))? )?use ([a-z_][a-z0-9_]*)::", src, re.M):
            if f"{m}::{ref}" in names:
                deps.add(f"{m}::{ref}")
        deps.discard(m)
        graph[m] = deps
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, found = {}, {}, set(), [], []
    counter = [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "dataplane/src"
    graph = dependencies(modules(root))
    found = cycles(graph)
    if not found:
        print(f"{root}: {len(graph)} modules, no import circle")
        return 0
    for component in found:
        print("import circle: " + " <-> ".join(component))
        for m in component:
            inside = sorted(d for d in graph[m] if d in component)
            print(f"  {m} uses {', '.join(inside)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
