"""Scale tenure, monthly charge and calls to [0, 1] with fixed bounds."""

import csv
import os
import sys

src, dst = sys.argv[1], sys.argv[2]
bounds = {"tenure": 72.0, "monthly": 120.0, "calls": 9.0}
os.makedirs(os.path.dirname(dst), exist_ok=True)
with open(src, newline="") as f, open(dst, "w", newline="") as out:
    reader = csv.DictReader(f)
    writer = csv.writer(out)
    writer.writerow([*bounds, "churned"])
    for row in reader:
        writer.writerow([round(float(row[k]) / b, 6) for k, b in bounds.items()] + [row["churned"]])
