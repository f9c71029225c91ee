"""The ST-GCN spatial-partition adjacency of a skeleton layout's graph."""
from __future__ import annotations

import numpy as np

from ..skeleton import Layout


def hop_distance(num_nodes: int, edges, max_hop: int = 1) -> np.ndarray:
    adj = np.eye(num_nodes)
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1
    dist = np.full((num_nodes, num_nodes), np.inf)
    reach = [np.linalg.matrix_power(adj, d) > 0 for d in range(max_hop + 1)]
    for d in range(max_hop, -1, -1):
        dist[reach[d]] = d
    return dist


def spatial_partition(layout: Layout, max_hop: int = 1) -> np.ndarray:
    """(3, V, V) adjacency: root, centripetal, centrifugal; entry [j, i] is the message j -> i.

    As in ST-GCN, hop distances are only computed up to ``max_hop`` (farther ones are inf), so
    two neighbours both farther than ``max_hop`` from the centre compare equal and land in the
    root subset. This is the graph every skeleton SSL paper trained on; it is kept as is.
    """
    num_nodes, center = layout.num_joints, layout.center_index
    dist = hop_distance(num_nodes, layout.edges, max_hop)
    adj = (dist <= max_hop).astype(np.float64)
    norm = adj / adj.sum(axis=0, keepdims=True)  # column-normalised: A D^-1
    parts = []
    for hop in range(max_hop + 1):
        root, close, far = (np.zeros_like(norm) for _ in range(3))
        for i in range(num_nodes):
            for j in range(num_nodes):
                if dist[j, i] != hop:
                    continue
                if dist[j, center] == dist[i, center]:
                    root[j, i] = norm[j, i]
                elif dist[j, center] > dist[i, center]:
                    close[j, i] = norm[j, i]
                else:
                    far[j, i] = norm[j, i]
        parts += [root] if hop == 0 else [root + close, far]
    return np.stack(parts).astype(np.float32)
