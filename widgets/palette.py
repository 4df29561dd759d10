"""Colours that mean the same thing in every view (Okabe-Ito, readable by colour-blind users).

The memory components keep one colour in the side panel's memory bar and in the Memory chart.
"""
from __future__ import annotations

COMPONENT_COLORS = {
    "weights": "#8C6D46", "kv_full": "#0072B2", "kv_sliding": "#56B4E9", "mla_latent": "#CC79A7",
    "image_kv": "#D55E00", "state": "#009E73", "activations": "#E69F00", "reserve": "#999999",
}
# the memory bar's parts: its KV part (caches and recurrent state together) takes full attention's
MEMORY_BAR_COLORS = {"weights": COMPONENT_COLORS["weights"], "kv": COMPONENT_COLORS["kv_full"],
                     "activations": COMPONENT_COLORS["activations"], "reserve": COMPONENT_COLORS["reserve"]}
