#!/usr/bin/env python3
"""Prints the corpus that dev/src/model/pca256.bin was fitted on, one text per line.

    python3 dev/scripts/pca-corpus.py > /tmp/corpus.txt
    cargo run --release -p s3vec-dev --example fit_pca -- /tmp/corpus.txt

Generic English prose found on any Debian machine with Python: the descriptions of the installed
Debian packages and the paragraphs of the Python standard library's docstrings (code examples
left out), de-duplicated, in a fixed shuffled order. Only the fitted matrix is shipped, not the
text. The exact corpus depends on the machine; the fit is not sensitive to it (docs/BENCHMARKS.md
records the loss on held-out sentences of other topics).
"""
import contextlib
import importlib
import inspect
import io
import random
import re
import sys
import warnings

warnings.filterwarnings("ignore")
texts = []


def add(text):
    text = " ".join(text.split())
    if 30 <= len(text) <= 600 and sum(c.isalpha() for c in text) > 0.6 * len(text):
        texts.append(text)


try:
    with open("/var/lib/dpkg/status", encoding="utf-8", errors="replace") as status:
        paragraph = []
        for line in status:
            if line.startswith("Description:"):
                add(line[len("Description:"):])
            elif line.startswith(" ") and line.strip() != ".":
                paragraph.append(line.strip())
            elif paragraph:
                add(" ".join(paragraph))
                paragraph = []
except OSError:
    pass

SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3",
        "ensurepip", "pydoc_data"}
for name in sorted(sys.stdlib_module_names):
    if name in SKIP or name.startswith("_"):
        continue
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            module = importlib.import_module(name)
    except BaseException:
        continue
    objects = [module] + [
        v for k, v in sorted(vars(module).items(), key=lambda kv: kv[0])
        if not k.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v) or inspect.isbuiltin(v))
    ]
    for obj in objects:
        doc = inspect.getdoc(obj)
        if not doc:
            continue
        for paragraph in re.split(r"\n\s*\n", doc):
            if ">>>" not in paragraph and "::" not in paragraph:
                add(paragraph)

unique = sorted(set(texts))
random.Random(384).shuffle(unique)
for text in unique:
    print(text)
