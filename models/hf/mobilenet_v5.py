"""Parameters of timm's MobileNet-V5 image encoders (Gemma 3n's vision tower), read from the same
block strings timm builds them from (timm 1.0's mobilenetv5.py, ``_gen_mobilenet_v5``).

A block string is ``type_r1_option..._cC``: er (EdgeResidual: a k x k expansion conv to e x in,
a 1x1 projection), uir (Universal Inverted Residual: an optional depthwise a x a conv, a 1x1
expansion to e x in, an optional depthwise k x k conv, a 1x1 projection, a layer scale) and mqa
(multi-query attention over 1x1 convs: h query heads of d dims, one key and one value head, keys
and values first downsampled by a depthwise k x k conv where the kv stride v > 1). Every conv
but the stem's has no bias and is followed by an RMSNorm over channels (a weight each).
The encoder ends in a fusion adapter: the last two stages' channels concatenated, a 1x1
expansion to twice that, a 1x1 projection to 2048 and a norm.
"""
from __future__ import annotations

import re

from ..spec import SpecError

_STAGE0 = ["er_r1_k3_s2_e4_c128", "er_r1_k3_s1_e4_c128", "er_r1_k3_s1_e4_c128"]
_STAGE1 = ["uir_r1_a3_k5_s2_e6_c256", "uir_r1_a5_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256",
           "uir_r1_a5_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256"]


def _alternating(attention: str, ffn: str, pairs: int) -> list[str]:
    return [s for _ in range(pairs) for s in (attention, ffn)]


# timm's MobileNet-V5 encoder definitions (the 300M one is Gemma 3n's)
ARCHITECTURES: dict[str, list[list[str]]] = {
    "mobilenetv5_300m": [
        _STAGE0, _STAGE1,
        ["uir_r1_a5_k5_s2_e6_c640"] + ["uir_r1_a5_k0_s1_e4_c640"] * 7 + ["uir_r1_a0_k0_s1_e1_c640"]
        + _alternating("mqa_r1_k3_h12_v2_s1_d64_c640", "uir_r1_a0_k0_s1_e2_c640", 14),
        ["uir_r1_a5_k5_s2_e6_c1280"] + _alternating("mqa_r1_k3_h16_s1_d96_c1280", "uir_r1_a0_k0_s1_e2_c1280", 19),
    ],
}
STEM = 64
FUSED = 2048          # the fusion adapter's output channels (the encoder's width)


def make_divisible(v: float, divisor: int = 8) -> int:
    """timm's channel rounding: the nearest multiple of 8, never more than 10% below ``v``."""
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


def _options(block: str) -> tuple[str, dict[str, int]]:
    kind, *ops = block.split("_")
    return kind, {m.group(1): float(m.group(2)) for op in ops if (m := re.fullmatch(r"([a-z]+)(\d.*)", op))}


def block_params(block: str, c_in: int) -> tuple[int, int]:
    """(parameters, output channels) of one block string on ``c_in`` input channels."""
    kind, o = _options(block)
    c_out = int(o["c"])
    if kind == "er":
        mid = make_divisible(c_in * o["e"])
        k = int(o["k"])
        return c_in * mid * k * k + mid + mid * c_out + c_out, c_out
    if kind == "uir":
        a, k, mid = int(o.get("a", 0)), int(o.get("k", 0)), make_divisible(c_in * o["e"])
        n = (c_in * a * a + c_in if a else 0) + c_in * mid + mid + (mid * k * k + mid if k else 0)
        return n + mid * c_out + c_out + c_out, c_out           # ... projection, its norm, layer scale
    if kind == "mqa":
        heads, d, k = int(o["h"]), int(o["d"]), int(o["k"])
        down = c_in * k * k + c_in if o.get("v", 1) > 1 else 0          # a depthwise conv and its norm
        n = c_in + c_in * heads * d + 2 * (down + c_in * d) + heads * d * c_out
        return n + c_out, c_out
    raise SpecError("config.vision_config.architecture", f"unknown MobileNet-V5 block type {kind!r}")


def mobilenet_v5_params(architecture: str) -> int:
    """All parameters of timm's ``architecture`` (``mobilenetv5_300m_enc`` and friends)."""
    base = str(architecture).removesuffix("_enc")
    stages = ARCHITECTURES.get(base)
    if stages is None:
        raise SpecError("config.vision_config.architecture",
                        f"{architecture!r} is not a MobileNet-V5 encoder Orbit knows; known: "
                        f"{', '.join(a + '_enc' for a in ARCHITECTURES)}")
    total = 3 * STEM * 9 + STEM + STEM          # the stem: a biased 3x3 stride-2 conv and its norm
    c, ends = STEM, []
    for stage in stages:
        for block in stage:
            n, c = block_params(block, c)
            total += n
        ends.append(c)
    fused_in = sum(ends[-2:])
    mid = make_divisible(fused_in * 2.0)
    return total + fused_in * mid + mid + mid * FUSED + FUSED + FUSED
