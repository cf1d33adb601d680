"""Accuracy and ROC curve of the model on the test features."""

import csv
import json
import math
import sys

model_path, features = sys.argv[1], sys.argv[2]
with open(model_path) as f:
    model = json.load(f)
with open(features, newline="") as f:
    rows = [list(map(float, r)) for r in list(csv.reader(f))[1:]]


def predict(x):
    z = sum(w * xi for w, xi in zip(model["weights"], x)) + model["bias"]
    return 1 / (1 + math.exp(-z))


scored = sorted(((predict(r[:-1]), r[-1]) for r in rows), reverse=True)
accuracy = sum((p >= 0.5) == (y == 1) for p, y in scored) / len(scored)
pos = sum(y for _, y in scored) or 1
neg = (len(scored) - pos) or 1
tp = fp = 0
curve = [(0.0, 0.0)]
for _, y in scored:
    tp += y == 1
    fp += y == 0
    curve.append((fp / neg, tp / pos))
auc = sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in zip(curve, curve[1:]))
with open("metrics.json", "w") as f:
    json.dump({"accuracy": round(accuracy, 4), "auc": round(auc, 4)}, f, indent=2)
with open("roc.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["fpr", "tpr"])
    writer.writerows((round(a, 4), round(b_, 4)) for a, b_ in curve[:: max(1, len(curve) // 50)])
