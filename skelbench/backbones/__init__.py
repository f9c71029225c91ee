"""Backbones: ``forward_features(x) -> (N*M, C', T', V)``, ``pool(features, M) -> (N, D)``,
``out_dim``. Registered by name; recipes give ``backbone: {name: ..., **kwargs}``."""
from __future__ import annotations

from ..registry import BACKBONES
from . import raw, stgcn  # noqa: F401  (register the raw-coordinate and ST-GCN backbones)

# Optimiser settings that suit a Transformer (MAMP's pretraining: AdamW, betas (0.9, 0.95),
# wd 0.05, linear warm-up then cosine). They replace the method recipe's ST-GCN settings when
# the backbone is a Transformer; a recipe's ``backbones.<name>`` section, a card's schedule and
# --set still override them.
TRANSFORMER_DEFAULTS = {"pretrain": {"optimizer": "adamw", "lr": 1.0e-3, "betas": [0.9, 0.95],
                                     "weight_decay": 0.05, "warmup_epochs": 20,
                                     "lr_schedule": "cosine", "lr_steps": []}}


# The Transformers are registered here and built in .transformer, so timm is imported only when
# one is built, not each time the command line starts. (The builders must not be named
# ``transformer``: importing the submodule would rebind that name.)
@BACKBONES.register("transformer")
def st_transformer(depth: int = 8, dim: int = 256, heads: int = 8, mlp_ratio: float = 4.0,
                tubelet: int = 4, attention: str = "joint", drop_path: float = 0.0,
                max_frames: int = 128, layout="ntu25"):
    """Spatio-temporal Transformer (timm blocks), MAMP's size: depth 8, width 256, 8 heads."""
    from .transformer import STTransformer
    return STTransformer(depth=depth, dim=dim, heads=heads, mlp_ratio=mlp_ratio, tubelet=tubelet,
                         attention=attention, drop_path=drop_path, max_frames=max_frames,
                         layout=layout)


@BACKBONES.register("transformer-small")
def st_transformer_small(depth: int = 4, dim: int = 64, heads: int = 4, mlp_ratio: float = 4.0,
                      tubelet: int = 4, attention: str = "factorised", drop_path: float = 0.0,
                      max_frames: int = 128, layout="ntu25"):
    """The Transformer at CPU size: depth 4, width 64, 4 heads, factorised attention."""
    return st_transformer(depth, dim, heads, mlp_ratio, tubelet, attention, drop_path, max_frames,
                          layout)


st_transformer.defaults = st_transformer_small.defaults = TRANSFORMER_DEFAULTS


# What a config may set of a backbone, also read without torch (skelbench.signatures).
from ..signatures import backbone_args, backbone_defaults, backbone_parameters  # noqa: E402,F401


def build_backbone(spec: dict, layout):
    """The encoder of ``spec`` for data of skeleton ``layout`` (a name or a Layout)."""
    return BACKBONES.get(spec["name"])(**backbone_args(spec), layout=layout)
