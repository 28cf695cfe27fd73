"""scikit-learn side of bench/train.ts: fit a RandomForestClassifier on the data files that the
TypeScript bench wrote, and print one JSON line with the measurements.

usage: python3 sklearn_train.py DATA_DIR TREES N_JOBS SEED
DATA_DIR holds meta.json and little-endian float64 files X_train.f64, y_train.f64, X_test.f64,
y_test.f64 (row-major).
"""
import json
import os
import pickle
import resource
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier


def peak_rss() -> float:
    """Peak RSS in MB: VmHWM (this address space) on Linux, because ru_maxrss survives execve
    and would include the parent's RSS at fork time; ru_maxrss elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    data_dir, trees, n_jobs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with open(os.path.join(data_dir, "meta.json")) as f:
        meta = json.load(f)
    cols = meta["cols"]

    def load(name: str, rows: int, width: int) -> np.ndarray:
        a = np.fromfile(os.path.join(data_dir, name), dtype="<f8")
        return a.reshape(rows, width) if width > 1 else a

    X_train = load("X_train.f64", meta["train_rows"], cols).astype(np.float32)
    y_train = load("y_train.f64", meta["train_rows"], 1).astype(np.int32)
    X_test = load("X_test.f64", meta["test_rows"], cols).astype(np.float32)
    y_test = load("y_test.f64", meta["test_rows"], 1).astype(np.int32)

    clf = RandomForestClassifier(
        n_estimators=trees, max_features="sqrt", bootstrap=True, n_jobs=n_jobs, random_state=seed
    )
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    pred = clf.predict(X_test)
    predict_s = time.perf_counter() - t0
    accuracy = float(np.mean(pred == y_test))

    # One-row latency (what a prediction endpoint pays per request).
    row = X_test[:1]
    clf.predict(row)
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        clf.predict(row)
    predict_row_ms = (time.perf_counter() - t0) / reps * 1000

    # Peak RSS before pickling, which would otherwise count a serialized copy of the model.
    peak_rss_mb = peak_rss()
    model_bytes = len(pickle.dumps(clf, protocol=pickle.HIGHEST_PROTOCOL))
    nodes = int(sum(e.tree_.node_count for e in clf.estimators_))

    print(
        json.dumps(
            {
                "fit_s": fit_s,
                "predict_s": predict_s,
                "accuracy": accuracy,
                "peak_rss_mb": peak_rss_mb,
                "model_bytes": model_bytes,
                "model_format": "pickle",
                "predict_row_ms": predict_row_ms,
                "nodes_per_tree": nodes / trees,
                "version": sklearn.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
