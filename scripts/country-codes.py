#!/usr/bin/env python3
"""Writes data/places/country-codes.tsv (ISO 3166-1 alpha-2 code -> common English country name)
from mledoze/countries in ../shared (ODbL 1.0; see data/places/ATTRIBUTION.md). The story
grouping uses it to place a city of data/gazetteers/cities.tsv in its country."""
import csv, pathlib, sys
root = pathlib.Path(__file__).resolve().parent.parent
src = root.parent / "shared/data/gazetteers/countries_mledoze/countries.tsv"
if not src.exists():
    sys.exit(f"{src} is absent")
rows = []
with open(src, newline="") as fh:
    for r in csv.DictReader(fh, delimiter="\t"):
        if r["cca2"] and r["name"]:
            rows.append((r["cca2"], r["name"]))
out = root / "data/places/country-codes.tsv"
with open(out, "w") as fh:
    fh.write("# code\tcountry — from mledoze/countries, ODbL 1.0, see ATTRIBUTION.md\n")
    for code, name in sorted(rows):
        fh.write(f"{code}\t{name}\n")
print(f"{len(rows)} countries -> {out}")
