"""Split the raw table into train.csv and test.csv (every k-th row goes to test)."""

import argparse
import csv
import os

parser = argparse.ArgumentParser()
parser.add_argument("src")
parser.add_argument("out_dir")
parser.add_argument("--test-share", type=float, required=True)
args = parser.parse_args()

with open(args.src, newline="") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
every = max(2, round(1 / args.test_share))
os.makedirs(args.out_dir, exist_ok=True)
for name, keep in (("train", lambda i: i % every), ("test", lambda i: not i % every)):
    with open(os.path.join(args.out_dir, f"{name}.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(r for i, r in enumerate(body) if keep(i))
