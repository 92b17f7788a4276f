#!/usr/bin/env python3
"""Writes N `sesame import jsonl` records to standard output (issue 19 benchmark).

The hashes are the committed fixtures (tests/fixtures/import/hashes.json),
taken in turn: an import never re-hashes, so their cost does not matter here.
Usage: bench_import_records.py HASHES_JSON N > records.jsonl
"""
import json
import sys

hashes = [
    h["hash"]
    for h in json.load(open(sys.argv[1]))
    # Django's bcrypt_sha256 reads as Sesame's older own in a JSONL file.
    if not h["hash"].startswith("bcrypt_sha256$")
]
out = sys.stdout
for i in range(int(sys.argv[2])):
    out.write(json.dumps({
        "id": i + 1,
        "username": f"user{i:06d}",
        "email": f"user{i:06d}@example.com",
        "password_hash": hashes[i % len(hashes)],
        "first_name": "Bench",
        "last_name": f"N{i}",
        "is_active": True,
        "is_admin": i % 1000 == 0,
        "date_joined": "2023-01-02T03:04:05Z",
    }) + "\n")
