#!/usr/bin/env python3
"""Debian's package index as a search corpus: one JSON object per line,
{"id", "text", "metadata"}, from `apt-cache dumpavail` (run `apt-get update` first).

  scripts/debian-corpus.py > corpus/debian.jsonl                # every package
  scripts/debian-corpus.py --limit 3000 > corpus/demo.jsonl     # a spread-out subset

`text` is the package name and its one-line description (the index carries only those;
long descriptions live in Translation files that are not downloaded by default). Metadata is
what a person filters on: section (with its area, e.g. "games", "contrib/utils"), priority,
architecture, installed size in KiB, download size in bytes, and the debtags facets
("use::editing", "role::program"...). When a package appears in several suites (bookworm,
-updates, -security) the highest version wins, as apt itself would choose.

A subset (--limit N) takes every k-th package in name order, so it spans the alphabet and
every section instead of stopping at "lib...". The output is sorted by id and deterministic
for a given package index.
"""
import argparse
import json
import subprocess
import sys


def stanzas(text):
    fields, last = {}, None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, None
        elif line[0] in " \t" and last:
            fields[last] += "\n" + line.strip()
        elif ":" in line:
            last, _, value = line.partition(":")
            fields[last] = value.strip()
    if fields:
        yield fields


def version_key(v):
    # Good enough to order one package's versions across suites; `dpkg --compare-versions`
    # is exact but costs a process per comparison.
    try:
        proc = subprocess.run(["dpkg", "--compare-versions", v[0], "gt", v[1]])
        return proc.returncode == 0
    except OSError:
        return v[0] > v[1]


def to_int(s):
    try:
        return int(s)
    except (TypeError, ValueError):
        return None


def record(f):
    name = f["Package"]
    description = f.get("Description", "").split("\n")[0].strip()
    if not description:
        return None
    meta = {
        "section": f.get("Section", "unknown"),
        "priority": f.get("Priority", "optional"),
        "architecture": f.get("Architecture", "all"),
        "version": f.get("Version", ""),
    }
    installed = to_int(f.get("Installed-Size"))
    if installed is not None:
        meta["installedSizeKiB"] = installed
    size = to_int(f.get("Size"))
    if size is not None:
        meta["sizeBytes"] = size
    tags = [t.strip() for t in f.get("Tag", "").replace("\n", " ").split(",") if t.strip()]
    if tags:
        meta["tags"] = tags
    if f.get("Homepage"):
        meta["homepage"] = f["Homepage"]
    return {"id": name, "text": f"{name}: {description}", "metadata": meta}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="at most this many packages, spread over the index")
    ap.add_argument("--input", help="read this dumpavail-format file instead of running apt-cache")
    args = ap.parse_args()
    if args.input:
        with open(args.input, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    else:
        try:
            text = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True,
                                  text=True, errors="replace").stdout
        except (OSError, subprocess.CalledProcessError) as e:
            sys.exit(f"debian-corpus: cannot run `apt-cache dumpavail` ({e}); on Debian run `apt-get update` first")
    best = {}
    for f in stanzas(text):
        if "Package" not in f:
            continue
        old = best.get(f["Package"])
        if old is None or (f.get("Version", "") != old.get("Version", "")
                           and version_key((f.get("Version", ""), old.get("Version", "")))):
            best[f["Package"]] = f
    records = [r for r in (record(f) for _, f in sorted(best.items())) if r]
    if not records:
        sys.exit("debian-corpus: the package index is empty; run `apt-get update` first")
    if args.limit and args.limit < len(records):
        step = len(records) / args.limit
        records = [records[int(i * step)] for i in range(args.limit)]
    out = sys.stdout
    for r in records:
        out.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"debian-corpus: {len(records)} packages", file=sys.stderr)


if __name__ == "__main__":
    main()
