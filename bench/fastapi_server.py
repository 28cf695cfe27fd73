"""The peer of `POST /predict` for bench/predict.ts: FastAPI + scikit-learn.

Trains a RandomForestClassifier on the same training rows as our champion (a CSV in the spec's column
order, written by the bench), one-hot encodes the categorical columns as our encoder does, validates
each row with pydantic against the same spec (types, ranges, categories, no extra fields) and answers
the same JSON shape. Run: python3 bench/fastapi_server.py --spec datasets/covertype.spec.json
--train rows.csv --trees 100 --port 8123
"""

import argparse
import csv
import json
import time
from typing import List, Literal, Optional

import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Extra, conint, conlist, confloat, create_model
from sklearn.ensemble import RandomForestClassifier

parser = argparse.ArgumentParser()
parser.add_argument("--spec", required=True)
parser.add_argument("--train", required=True)
parser.add_argument("--trees", type=int, default=100)
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--min-samples-leaf", type=int, default=1)
parser.add_argument("--max-features", default="sqrt")
parser.add_argument("--fit-jobs", type=int, default=1, help="cores for fitting; serving uses one")
args = parser.parse_args()

with open(args.spec) as f:
    spec = json.load(f)
target = spec["target"]
features = [c for c in spec["columns"] if c["name"] != target]
classes = spec.get("classes", [])
labels = {c["value"]: c.get("label", str(c["value"])) for c in classes}


def encode(record: dict) -> List[float]:
    out: List[float] = []
    for c in features:
        v = record[c["name"]]
        if c["type"] == "categorical":
            out.extend(1.0 if v == value else 0.0 for value in c["values"])
        else:
            out.append(float(v))
    return out


started = time.perf_counter()
with open(args.train, newline="") as f:
    reader = csv.DictReader(f)
    x, y = [], []
    for r in reader:
        record = {c["name"]: (r[c["name"]] if c["type"] == "categorical" else float(r[c["name"]])) for c in features}
        x.append(encode(record))
        y.append(int(float(r[target])))
# Full depth (max_depth=None), as our champion.
model = RandomForestClassifier(n_estimators=args.trees, max_depth=None, min_samples_leaf=args.min_samples_leaf,
                               max_features=args.max_features, random_state=args.seed, n_jobs=args.fit_jobs)
model.fit(np.asarray(x, dtype=np.float32), np.asarray(y))
model.n_jobs = 1
model_classes = [int(c) for c in model.classes_]
print(json.dumps({"event": "trained", "rows": len(x), "trees": args.trees, "seconds": round(time.perf_counter() - started, 2)}), flush=True)


def field_type(c: dict):
    if c["type"] == "categorical":
        return (Literal[tuple(c["values"])], ...)
    kind = conint if c["type"] == "integer" else confloat
    return (kind(ge=c.get("min"), le=c.get("max"), strict=False), ...)


class Forbid:
    extra = Extra.forbid


Row = create_model("Row", __config__=Forbid, **{c["name"]: field_type(c) for c in features})


class PredictBody(BaseModel):
    model: str = spec["name"]
    model_version: Optional[conint(gt=0)] = None
    rows: conlist(Row, min_items=1, max_items=1000)  # type: ignore[valid-type]

    class Config:
        extra = Extra.forbid


app = FastAPI()


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/predict")
def predict(body: PredictBody):
    matrix = np.asarray([encode(r.dict()) for r in body.rows], dtype=np.float32)
    proba = model.predict_proba(matrix)
    predictions = []
    for p in proba:
        best = int(np.argmax(p))
        value = model_classes[best]
        predictions.append({
            "prediction": value,
            "label": labels.get(value, str(value)),
            "probabilities": {str(c["value"]): float(p[model_classes.index(c["value"])]) if c["value"] in model_classes else 0.0 for c in classes},
        })
    return {"model": {"name": body.model, "version": 1, "alias": "champion"}, "predictions": predictions}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, workers=1)
