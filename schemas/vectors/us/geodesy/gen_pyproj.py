#!/usr/bin/env python3
"""Reference WGS84 geodetic <-> ECEF points computed with pyproj (PROJ), independent of the
Rust `map_3d` crate. Regenerate: `python3 gen_pyproj.py > pyproj_points.csv` (pip install pyproj).
Columns: lat_deg, lon_deg, alt_m, x_m, y_m, z_m (pyproj EPSG:4979 -> EPSG:4978)."""
import random
import pyproj

t = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
rng = random.Random(20261121)
pts = [
    (0.0, 0.0, 0.0), (90.0, 0.0, 0.0), (-90.0, 0.0, 0.0), (0.0, 180.0, 0.0),
    (0.0, -180.0, 0.0), (45.0, 45.0, -1000.0), (39.0392, 125.7625, 30.0),
    (40.2, 131.5, 612000.0), (-33.5, -179.999, 1995000.0), (89.9999, 10.0, 2000000.0),
    (-89.9999, -10.0, 500000.0), (35.0, 139.0, 10000000.0), (0.0, 90.0, 2000000.0),
]
for _ in range(300):
    lat = rng.uniform(-90, 90)
    lon = rng.uniform(-180, 180)
    alt = rng.choice([rng.uniform(-1000, 10000), rng.uniform(0, 2_000_000), rng.uniform(0, 10_000_000)])
    pts.append((lat, lon, alt))
print("# lat_deg,lon_deg,alt_m,x_m,y_m,z_m  (pyproj %s, PROJ %s)" % (pyproj.__version__, pyproj.proj_version_str))
for lat, lon, alt in pts:
    x, y, z = t.transform(lon, lat, alt)
    print("%.12f,%.12f,%.6f,%.6f,%.6f,%.6f" % (lat, lon, alt, x, y, z))
