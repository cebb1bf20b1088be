#!/bin/sh
# The four configurations of docs/BENCHMARKS.md, one after the other (about 3 minutes each).
set -e
cd "$(dirname "$0")/.."
R=${REDIS:-redis://127.0.0.1:6379/0}
.venv/bin/python bench/hotpath.py --db sqlite --workers 1 "$@"
.venv/bin/python bench/hotpath.py --db sqlite --workers 2 --redis "$R" "$@"
.venv/bin/python bench/hotpath.py --db postgresql --workers 1 --redis "$R" "$@"
.venv/bin/python bench/hotpath.py --db postgresql --workers 2 --redis "$R" "$@"
