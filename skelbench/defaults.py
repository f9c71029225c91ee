"""Default values the config resolver layers under every recipe and card: data only, so that
``skelbench.config`` imports nothing above it (protocols, training, data import the config)."""

# Defaults of the protocol sections of every config; a recipe, then a dataset card's schedule,
# then --set, override them (the linear section lives in each recipe, as the papers differ).
PROTOCOLS = {
    # BN statistics of a frozen encoder: ``running`` keeps the estimate training left (what the
    # papers evaluate); ``precise`` re-estimates them on the clean, shuffled training clips of
    # the evaluated split, for every encoder alike (docs/protocols.md).
    "features": {"bn": "running"},
    "retrieval": {"k": 20, "temperature": 0.1},
    # Temperature scaling is fitted on a fixed, seeded 10 % of the training clips, held out
    # from the head it scales (skelbench/protocols/calibration.py).
    "calibration": {"n_bins": 15, "heldout": 0.1, "heldout_seed": 0},
    # Transitions X_j -> X_i between fixed, seeded pairs of test clips (the same pairs for every
    # method): global interpolation at ``grid``, local substitution of 1..4 body parts.
    "continuity": {"pairs": 200, "pair_seed": 0,
                   "grid": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
    # ActCLR's finetune settings (the AimCLR repository has none): all layers, no augmentation.
    "finetune": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True,
                 "weight_decay": 1.0e-4, "epochs": 80, "lr_steps": [10, 30, 50],
                 "lr_gamma": 0.1, "batch_size": 128, "amp": True},
    # The labelled subset's seed (None: the run's seed) and what its finetuning changes.
    "semi": {"subset_seed": None, "schedule": {}},
    "transfer": {"target": None},       # a split; the dataset card names a default
}

# How a step runs on the device, not what it computes (skelbench/speed.py; outside the hash).
SPEED = {"cudnn_benchmark": "auto", "tf32": "auto", "fused_optimizer": "auto", "compile": False}
