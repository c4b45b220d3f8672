#!/usr/bin/env bash
# One `s3vec index` run against a fresh s3vec-dev with its Bedrock service, printing the
# CLI's own summary (documents/s). Usage: bench/cli-index-rate.sh CORPUS.jsonl
# Binaries from $T (default target/bedrock-opt/release, see docs/BENCHMARKS.md).
set -euo pipefail
T=${T:-target/bedrock-opt/release}
corpus=${1:?usage: bench/cli-index-rate.sh CORPUS.jsonl}
work=$(mktemp -d)
$T/s3vec-dev --s3-port 0 --bedrock-port 0 --bucket vec-tp --ready-file $work/ready.json --data-dir $work/data >$work/log 2>&1 &
pid=$!
trap 'kill $pid; wait $pid 2>/dev/null; rm -rf $work' EXIT
for _ in $(seq 1 600); do [ -s $work/ready.json ] && break; sleep 0.1; done
# Warm the model like the throughput example does (4 texts).
head -4 "$corpus" | sed 's/"id":"/"id":"warm-/' > $work/warm.jsonl
$T/s3vec --local-stack $work/ready.json --bucket vec-tp --prefix warm index $work/warm.jsonl --dims 1024 2>/dev/null
$T/s3vec --local-stack $work/ready.json --bucket vec-tp --prefix tp index "$corpus" --dims 1024 --concurrency ${CONC:-8} --shard-size ${SHARD:-2000} 2>&1 | tail -1
