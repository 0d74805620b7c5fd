#!/usr/bin/env python3
"""scikit-learn on lrcast's exact features and holdout folds: a check of lrcast's predictor scores.

    lrcast export features experiments/default.toml            # → models/default/features.csv
    python benches/sklearn_reference.py models/default/features.csv --fit models/default/fit.json

For every protocol column (`fold:<name>`) of the CSV it fits scikit-learn's LinearRegression (the
same OLS as lrcast's `ols`, on the same design matrix), HistGradientBoostingRegressor and
RandomForestRegressor (references for lrcast's `boosted_trees` and `random_forest`) and SVR (the
same settings as lrcast's `svr`), pools the held-out predictions
over folds, and prints MAE, R², Spearman and, for leave-one-group-out protocols, how many held-out
LR curves have their optimum found. With --fit, lrcast's own scores for the same protocols are
printed beside them. A check only: lrcast never runs Python.
"""

import argparse
import json

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.svm import SVR


class StandardisedSvr:
    """lrcast's `svr`: constant columns dropped, the rest standardised on the training rows, RBF
    SVR with C = 1, epsilon = 0.01 and gamma = 1 / (non-constant features)."""

    def fit(self, x, y):
        self.keep = x.std(axis=0) > 1e-12
        z = x[:, self.keep]
        self.mean, self.scale = z.mean(axis=0), z.std(axis=0)
        self.svr = SVR(C=1.0, epsilon=0.01, gamma=1.0 / max(1, self.keep.sum()))
        self.svr.fit((z - self.mean) / self.scale, y)
        return self

    def predict(self, x):
        return self.svr.predict((x[:, self.keep] - self.mean) / self.scale)


def models():
    return {
        "sk_ols": lambda: LinearRegression(),
        "sk_hist_gbr": lambda: HistGradientBoostingRegressor(random_state=0),
        "sk_random_forest": lambda: RandomForestRegressor(n_estimators=300, random_state=0, n_jobs=2),
        "sk_random_forest_100": lambda: RandomForestRegressor(
            n_estimators=100, min_samples_leaf=2, random_state=0, n_jobs=2
        ),
        "sk_svr": lambda: StandardisedSvr(),
    }


def folds(labels):
    """(train_mask, test_mask) pairs of one protocol column."""
    # An empty label: the protocol leaves the row out of both sides (e.g. a failed run at an
    # extreme of extreme_trained).
    values = set(labels) - {""}
    if values <= {"train", "test"}:
        yield labels == "train", labels == "test"
    else:
        for v in sorted(values):
            yield (labels != v) & (labels != ""), labels == v


def optimum_hits(df, pred, labels, base_lr_col):
    """Held-out groups whose predicted best LR (mean over other settings) is the true best."""
    hits = groups = 0
    lr = 10 ** df[base_lr_col].to_numpy()
    for v in sorted(set(labels)):
        m = labels == v
        frame = pd.DataFrame({"lr": lr[m], "y": df["top1"].to_numpy()[m], "p": pred[m]})
        curve = frame.groupby("lr").mean()
        if len(curve) < 2:
            continue
        groups += 1
        hits += int(curve["y"].idxmax() == curve["p"].idxmax())
    return hits, groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--fit", help="lrcast's fit.json, to print its scores beside")
    args = ap.parse_args()
    df = pd.read_csv(args.csv)
    protocol_cols = [c for c in df.columns if c.startswith("fold:")]
    feature_cols = [c for c in df.columns if c not in protocol_cols and c not in ("run_id", "top1")]
    x = df[feature_cols].to_numpy(float)
    y = df["top1"].to_numpy(float)
    lrcast = {}
    if args.fit:
        for split in json.load(open(args.fit))["splits"]:
            for m in split["models"]:
                if m["scores"]:
                    lrcast[(split["split"], m["model"])] = m["scores"]
    for col in protocol_cols:
        name = col[len("fold:"):]
        labels = df[col].fillna("").astype(str).to_numpy()
        rows = []
        for model_name, make in models().items():
            pred = np.full(len(y), np.nan)
            for train, test in folds(labels):
                pred[test] = make().fit(x[train], y[train]).predict(x[test])
            scored = ~np.isnan(pred)
            a, p = y[scored], pred[scored]
            r2 = 1 - ((a - p) ** 2).sum() / ((a - a.mean()) ** 2).sum()
            row = {
                "protocol": name,
                "model": model_name,
                "n": int(scored.sum()),
                "mae": round(float(np.abs(a - p).mean()), 4),
                "r2": round(float(r2), 4),
                "spearman": round(float(spearmanr(a, p).statistic), 4),
            }
            if name.startswith("logo:"):
                row["optimum_hits"] = "%d/%d" % optimum_hits(df, pred, labels, "log10(base_lr)")
            rows.append(row)
        for model_name in ("ols", "boosted_trees", "random_forest", "svr", "twin_seed"):
            s = lrcast.get((name, model_name))
            if s:
                row = {
                    "protocol": name,
                    "model": "lrcast_" + model_name,
                    "n": s["n"],
                    "mae": round(s["mae"], 4),
                    "r2": None if s["r2"] is None else round(s["r2"], 4),
                    "spearman": None if s["spearman"] is None else round(s["spearman"], 4),
                }
                if s.get("optimum"):
                    row["optimum_hits"] = "%d/%d" % (s["optimum"]["hits"], s["optimum"]["groups"])
                rows.append(row)
        for row in rows:
            print(json.dumps(row))


if __name__ == "__main__":
    main()
