"""Peer side of bench/boost.ts: fit scikit-learn's HistGradientBoostingClassifier or XGBoost
(tree_method="hist") on the data files the TypeScript bench wrote, write the test-set class
probabilities, and print one JSON line with the measurements.

usage: python3 boost_peers.py DATA_DIR SIDE ITERATIONS LEAVES LEARNING_RATE MAX_BINS MIN_SAMPLES_LEAF THREADS SEED
SIDE is sklearn_hgb or xgboost. DATA_DIR holds meta.json and little-endian float64 files
X_train.f64, y_train.f64 (class indices 0..K-1), X_test.f64 (row-major, NaN = missing).
Writes DATA_DIR/proba_SIDE.f64 (test rows x K, row-major).
"""
import json
import os
import pickle
import sys
import time

import numpy as np

from sklearn_train import peak_rss  # same folder: one definition of the measurement


def main() -> None:
    data_dir, side = sys.argv[1], sys.argv[2]
    iterations, leaves = int(sys.argv[3]), int(sys.argv[4])
    lr, bins, min_leaf = float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    threads, seed = int(sys.argv[8]), int(sys.argv[9])
    with open(os.path.join(data_dir, "meta.json")) as f:
        meta = json.load(f)
    cols, k = meta["cols"], meta["classes"]

    def load(name: str, rows: int, width: int) -> np.ndarray:
        a = np.fromfile(os.path.join(data_dir, name), dtype="<f8")
        return a.reshape(rows, width) if width > 1 else a

    X_train = load("X_train.f64", meta["train_rows"], cols)
    y_train = load("y_train.f64", meta["train_rows"], 1).astype(np.int32)
    X_test = load("X_test.f64", meta["test_rows"], cols)

    if side == "sklearn_hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        clf = HistGradientBoostingClassifier(
            max_iter=iterations,
            learning_rate=lr,
            max_leaf_nodes=leaves,
            min_samples_leaf=min_leaf,
            l2_regularization=0.0,
            max_bins=bins,
            early_stopping=False,
            random_state=seed,
        )
    elif side == "xgboost":
        import xgboost

        clf = xgboost.XGBClassifier(
            n_estimators=iterations,
            learning_rate=lr,
            tree_method="hist",
            grow_policy="lossguide",
            max_leaves=leaves,
            max_depth=0,
            max_bin=bins,
            reg_lambda=0.0,
            min_child_weight=1e-3,
            n_jobs=threads,
            random_state=seed,
        )
    else:
        raise SystemExit(f"unknown side {side}")

    t0 = time.perf_counter()
    c0 = time.process_time()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    fit_cpu_s = time.process_time() - c0
    t1 = time.perf_counter()
    proba = clf.predict_proba(X_test)
    predict_s = time.perf_counter() - t1
    assert proba.shape == (meta["test_rows"], k), proba.shape
    proba.astype("<f8").tofile(os.path.join(data_dir, f"proba_{side}.f64"))
    if side == "xgboost":
        model_bytes = len(clf.get_booster().save_raw(raw_format="json"))
        version = __import__("xgboost").__version__
    else:
        model_bytes = len(pickle.dumps(clf))
        version = __import__("sklearn").__version__
    print(json.dumps({
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "predict_s": predict_s,
        "peak_rss_mb": peak_rss(),
        "model_bytes": model_bytes,
        "model_format": "json" if side == "xgboost" else "pickle",
        "version": version,
        "threads": threads,
        "iterations": int(getattr(clf, "n_iter_", iterations)),
    }))


if __name__ == "__main__":
    main()
