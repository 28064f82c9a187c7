#!/usr/bin/env python3
"""Writes data/wordfreq/en.tsv: English word frequencies for the stories' rarity prior.

Source: the `wordfreq` 3.1.1 wheel from PyPI (its data files are CC BY-SA 4.0; see
data/wordfreq/ATTRIBUTION.md). Usage:

    pip download wordfreq==3.1.1 --no-deps -d /tmp/wf && pip install msgpack
    scripts/wordfreq-table.py /tmp/wf/wordfreq-3.1.1-py3-none-any.whl > data/wordfreq/en.tsv

Keeps purely alphanumeric words with a Zipf frequency of at least 3 (one in a million words),
as `word<TAB>centibels` (frequency = 10^(-centibels/100)), most frequent first.
"""
import gzip
import io
import sys
import zipfile

import msgpack

MIN_ZIPF = 3.0

with zipfile.ZipFile(sys.argv[1]) as z:
    raw = z.read("wordfreq/data/large_en.msgpack.gz")
packed = msgpack.unpackb(gzip.decompress(raw), raw=False)
header, bins = packed[0], packed[1:]
assert header.get("format") == "cB", header
out = io.StringIO()
out.write("# word\tcentibels (frequency = 10^(-cB/100)); from wordfreq 3.1.1 large_en, CC BY-SA 4.0\n")
for cb, words in enumerate(bins):
    # Zipf = log10(frequency per billion words) = 9 - cb/100
    if 9 - cb / 100 < MIN_ZIPF:
        break
    for w in sorted(words):
        if w.isalnum():
            out.write(f"{w}\t{cb}\n")
sys.stdout.write(out.getvalue())
