"""A spatio-temporal Transformer for skeletons (MAMP's encoder layout) built from timm parts.

Each person is encoded on its own (persons folded into the batch): a tubelet of ``tubelet``
frames of one joint becomes a token (a strided convolution over time), plus a learned temporal
and a learned joint position embedding; pre-norm blocks of attention and MLP with residuals and
DropPath; a final LayerNorm. ``attention="joint"`` attends over all T'·V tokens at once (MAMP);
``"factorised"`` runs spatial attention (the V joints of one time step), then temporal attention
(the T' steps of one joint), then the MLP in each block: O(T'² + V²) instead of O((T'V)²).

``forward_features`` returns (N·M, C, T', V) like ST-GCN's, so methods that work on feature maps
(AimCLR's attention drop, ActCLR's actionlets) and ``pool`` are shared. A clip whose length is
not a multiple of the tubelet is padded at the end with zero frames, as the datasets pad.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from timm.layers import Attention, DropPath, Mlp, trunc_normal_

from ..skeleton import Layout, get_layout
from .stgcn import STGCN


class JointBlock(nn.Module):
    """Pre-norm attention over every token of a clip, then an MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads, qkv_bias=True)
        self.norm2, self.mlp = nn.LayerNorm(dim), Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # (B, T', V, D)
        b, t, v, d = x.shape
        x = x.reshape(b, t * v, d)
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.reshape(b, t, v, d)


class FactorisedBlock(nn.Module):
    """Pre-norm spatial attention (within a time step), temporal attention (within a joint),
    then an MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.norm_s, self.attn_s = nn.LayerNorm(dim), Attention(dim, heads, qkv_bias=True)
        self.norm_t, self.attn_t = nn.LayerNorm(dim), Attention(dim, heads, qkv_bias=True)
        self.norm2, self.mlp = nn.LayerNorm(dim), Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # (B, T', V, D)
        b, t, v, d = x.shape
        s = x.reshape(b * t, v, d)
        s = s + self.drop_path(self.attn_s(self.norm_s(s)))
        tt = s.reshape(b, t, v, d).transpose(1, 2).reshape(b * v, t, d)
        tt = tt + self.drop_path(self.attn_t(self.norm_t(tt)))
        x = tt.reshape(b, v, t, d).transpose(1, 2)
        return x + self.drop_path(self.mlp(self.norm2(x)))


BLOCKS = {"joint": JointBlock, "factorised": FactorisedBlock}


class STTransformer(nn.Module):
    """Input (N, C, T, V, M); ``forward_features`` -> (N*M, D, T', V); ``pool`` -> (N, D)."""

    def __init__(self, depth: int = 8, dim: int = 256, heads: int = 8, mlp_ratio: float = 4.0,
                 tubelet: int = 4, attention: str = "joint", drop_path: float = 0.0,
                 max_frames: int = 128, layout: str | Layout = "ntu25"):
        super().__init__()
        self.layout = layout = get_layout(layout)
        in_channels, num_joints = layout.coords, layout.num_joints
        if attention not in BLOCKS:
            raise ValueError(f"attention must be one of {sorted(BLOCKS)}, got {attention!r}")
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.tubelet, self.max_frames = tubelet, max_frames
        self.embed = nn.Conv2d(in_channels, dim, kernel_size=(tubelet, 1), stride=(tubelet, 1))
        self.time_embed = nn.Parameter(torch.zeros(1, -(-max_frames // tubelet), 1, dim))
        self.joint_embed = nn.Parameter(torch.zeros(1, 1, num_joints, dim))
        rates = torch.linspace(0, drop_path, depth).tolist()   # stochastic depth grows with depth
        self.blocks = nn.ModuleList(BLOCKS[attention](dim, heads, mlp_ratio, r) for r in rates)
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # MAE/MAMP: xavier-uniform linear layers (the tubelet embedding viewed as one), zero
        # biases, unit LayerNorms, position embeddings N(0, 0.02) truncated.
        trunc_normal_(self.time_embed, std=0.02)
        trunc_normal_(self.joint_embed, std=0.02)
        nn.init.xavier_uniform_(self.embed.weight.view(self.embed.weight.shape[0], -1))
        nn.init.zeros_(self.embed.bias)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        if t > self.max_frames:
            raise ValueError(f"clips of {t} frames exceed the transformer's max_frames "
                             f"{self.max_frames}: set backbone.max_frames")
        x = x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)
        pad = -t % self.tubelet
        if pad:
            x = F.pad(x, (0, 0, 0, pad))                       # zero frames at the end
        x = self.embed(x).permute(0, 2, 3, 1)                   # (N*M, T', V, D)
        x = x + self.time_embed[:, :x.shape[1]] + self.joint_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x).permute(0, 3, 1, 2)                 # (N*M, D, T', V)

    # As ST-GCN's: the mean over (T', V), then over persons (an absent person included).
    pool = staticmethod(STGCN.pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_features(x), x.shape[-1])
