"""Write a synthetic customer table: tenure, monthly charge, support calls, churned."""

import argparse
import csv
import math
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

rng = random.Random(args.seed)
os.makedirs(os.path.dirname(args.out), exist_ok=True)
with open(args.out, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["tenure", "monthly", "calls", "churned"])
    for _ in range(args.rows):
        tenure = rng.randint(1, 72)
        monthly = round(rng.uniform(20, 120), 2)
        calls = rng.randint(0, 9)
        score = -1.5 - 0.05 * tenure + 0.02 * monthly + 0.45 * calls
        churned = int(rng.random() < 1 / (1 + math.exp(-score)))
        writer.writerow([tenure, monthly, calls, churned])
