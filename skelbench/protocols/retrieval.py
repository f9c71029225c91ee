"""Retrieval: kNN on L2-normalised frozen features, training split as gallery, test as queries."""
from __future__ import annotations

from ..metrics import retrieval as knn
from .base import protocol


@protocol("retrieval", "features", "retrieval")
def retrieval(ctx) -> dict:
    """kNN-1 top-1 (cosine) on pooled backbone features; weighted kNN-k and mAP beside it."""
    split = ctx.eval_split()
    train_feat, test_feat = ctx.features(split)
    spec = ctx.cfg["retrieval"]
    return {"metrics": knn(train_feat, split.y_train, test_feat, split.y_test, split.num_classes,
                           k=int(spec["k"]), temperature=float(spec["temperature"]))}
