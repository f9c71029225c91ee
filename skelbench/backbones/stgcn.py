"""ST-GCN as the skeleton SSL papers use it (CrosSCLR / AimCLR / ActCLR encoder).

Ten blocks of graph convolution (spatial partition, learnable edge importance) followed by a
9x1 temporal convolution; widths w,w,w,w,2w,2w,2w,4w,4w,hidden_dim with temporal stride 2 at
blocks 5 and 8. ``width=16`` is the papers' quarter-width encoder, ``width=64`` the full one.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..skeleton import Layout, get_layout
from ..registry import BACKBONES
from .graph import spatial_partition


class GraphConv(nn.Module):
    """Graph convolution over K adjacency subsets: y[w] = sum_k W_k x A_k[:, w] + b_k colsum(A_k)[w].

    The parameters are those of the original formulation (a 1x1 conv to K*C_out channels, then
    an einsum with A), but the aggregation runs first, as one matmul against all K subsets
    concatenated, on the C_in channels; the conv then mixes (K, C_in) at once. Same function,
    fewer FLOPs (C_in < C_out in every block) and no copy of a K*C_out tensor.
    """

    def __init__(self, c_in: int, c_out: int, num_subsets: int):
        super().__init__()
        self.k, self.c_in, self.c_out = num_subsets, c_in, c_out
        self.conv = nn.Conv2d(c_in, c_out * num_subsets, kernel_size=1)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        k, w = self.k, adj.shape[-1]
        x = torch.matmul(x, adj.transpose(0, 1).reshape(v, k * w))         # (n, C_in, t, K*w)
        x = x.view(n, self.c_in, t, k, w).permute(0, 3, 1, 2, 4).reshape(n, k * self.c_in, t, w)
        weight = self.conv.weight.view(k, self.c_out, self.c_in).transpose(0, 1)
        y = F.conv2d(x, weight.reshape(self.c_out, k * self.c_in, 1, 1))
        bias = torch.einsum("kc,kw->cw", self.conv.bias.view(k, self.c_out), adj.sum(dim=1))
        return y + bias[:, None, :]


class STGCNBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, adj: torch.Tensor, stride: int = 1,
                 dropout: float = 0.0, residual: bool = True, kernel: int = 9):
        super().__init__()
        self.register_buffer("adj", adj.clone(), persistent=False)
        self.edge_importance = nn.Parameter(torch.ones_like(adj))
        self.gcn = GraphConv(c_in, c_out, adj.shape[0])
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (kernel, 1), (stride, 1), ((kernel - 1) // 2, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(dropout, inplace=True))
        if not residual:
            self.residual = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return self.relu(self.tcn(self.gcn(x, self.adj * self.edge_importance)) + res)


class STGCN(nn.Module):
    """Input (N, C, T, V, M); ``forward_features`` -> (N*M, C', T', V); ``pool`` -> (N, C')."""

    def __init__(self, width: int = 16, hidden_dim: int = 256, dropout: float = 0.5,
                 layout: str | Layout = "ntu25"):
        super().__init__()
        self.layout = layout = get_layout(layout)
        in_channels, num_joints = layout.coords, layout.num_joints
        adj = torch.from_numpy(spatial_partition(layout))
        w = width
        plan = [  # (c_in, c_out, stride); dropout in every block but the first, as the papers
            (in_channels, w, 1), (w, w, 1), (w, w, 1), (w, w, 1), (w, 2 * w, 2),
            (2 * w, 2 * w, 1), (2 * w, 2 * w, 1), (2 * w, 4 * w, 2), (4 * w, 4 * w, 1),
            (4 * w, hidden_dim, 1)]
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        self.blocks = nn.ModuleList(
            STGCNBlock(c_in, c_out, adj, stride, dropout=0.0 if i == 0 else dropout, residual=i > 0)
            for i, (c_in, c_out, stride) in enumerate(plan))
        self.out_dim = hidden_dim
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        x = self.data_bn(x)
        x = x.view(n * m, v, c, t).permute(0, 2, 3, 1).contiguous()
        for block in self.blocks:
            x = block(x)
        return x

    @staticmethod
    def pool(features: torch.Tensor, num_persons: int) -> torch.Tensor:
        # Average over (T', V), then over persons; an absent (all-zero) second person is
        # averaged in, as in the original encoder.
        pooled = features.mean(dim=(2, 3))
        return pooled.view(-1, num_persons, pooled.shape[1]).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_features(x), x.shape[-1])


def init_weights(module: nn.Module) -> None:
    """The SSL processors' init: conv/linear N(0, 0.02), BN weight N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@BACKBONES.register("stgcn")
def stgcn(width: int = 16, hidden_dim: int = 256, dropout: float = 0.5,
        layout: str | Layout = "ntu25") -> STGCN:
    """ST-GCN, quarter width (16) by default, as in SkeletonCLR/AimCLR/ActCLR."""
    return STGCN(width=width, hidden_dim=hidden_dim, dropout=dropout, layout=layout)


@BACKBONES.register("stgcn-full")
def stgcn_full(width: int = 64, hidden_dim: int = 256, dropout: float = 0.5,
        layout: str | Layout = "ntu25") -> STGCN:
    """ST-GCN at the original full width (64)."""
    return STGCN(width=width, hidden_dim=hidden_dim, dropout=dropout, layout=layout)


@BACKBONES.register("stgcn-tiny")
def stgcn_tiny(width: int = 8, hidden_dim: int = 64, dropout: float = 0.5,
        layout: str | Layout = "ntu25") -> STGCN:
    """ST-GCN at half the papers' width with a 64-d output: the embedded set's CPU schedule."""
    return STGCN(width=width, hidden_dim=hidden_dim, dropout=dropout, layout=layout)
