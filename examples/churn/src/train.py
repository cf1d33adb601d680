"""Logistic regression by batch gradient descent, in plain Python.

Usage: train.py FEATURES MODEL --lr 0.1 --epochs 20 --l2 0.001
"""

import argparse
import csv
import json
import math

parser = argparse.ArgumentParser()
parser.add_argument("features")
parser.add_argument("model")
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--l2", type=float, required=True)
args = parser.parse_args()

with open(args.features, newline="") as f:
    rows = [list(map(float, r)) for r in list(csv.reader(f))[1:]]
xs = [r[:-1] for r in rows]
ys = [r[-1] for r in rows]
w = [0.0] * len(xs[0])
b = 0.0
for epoch in range(args.epochs):
    gw = [0.0] * len(w)
    gb = 0.0
    for x, y in zip(xs, ys):
        p = 1 / (1 + math.exp(-(sum(wi * xi for wi, xi in zip(w, x)) + b)))
        for i, xi in enumerate(x):
            gw[i] += (p - y) * xi
        gb += p - y
    n = len(xs)
    w = [wi - args.lr * (g / n + args.l2 * wi) * 10 for wi, g in zip(w, gw)]
    b -= args.lr * gb / n * 10
with open(args.model, "w") as f:
    json.dump({"weights": w, "bias": b}, f, indent=2)
