"""Training and serving economics (LLMOrbit survey, section 7).

- Training compute C = 6 * N_active * D (Kaplan et al. 2020; forward + backward, 2 + 4 FLOPs per
  parameter per token).
- Chip-hours = C / (peak * MFU) / 3600.
- Energy cost, survey eq. (63): C_energy = R_elec * P_TDP * R_avg * PUE * N_chip-hours.
- Amortized hardware, survey eq. (62):
  C_amortized = P_chip * N_chips * (1 + O_network) / (T_lifetime * U_util) * T_train.
- Serving: cost per million tokens = devices * $/device-hour / (tokens/s * 3600) * 1e6.
- Thinking budget: latency = TTFT + budget * TPOT; cost = budget * cost per token.
"""
from __future__ import annotations

from dataclasses import dataclass

from .cost import CostReport
from .hardware import Hardware

HOURS_PER_YEAR = 365.25 * 24


@dataclass(frozen=True)
class TrainingAssumptions:
    tokens: float = 15e12
    mfu: float = 0.40                 # model FLOPs utilisation
    chips: int = 2048
    power_ratio: float = 0.70         # R_avg: average power / TDP (survey: 65-80%)
    pue: float = 1.2                  # survey: 1.1-1.3
    electricity_usd_per_kwh: float = 0.12
    lifetime_years: float = 4.0
    utilisation: float = 0.70         # U_util
    network_overhead: float = 0.23    # O_network


@dataclass(frozen=True)
class TrainingEstimate:
    flops: float
    chip_hours: float
    wall_days: float
    energy_mwh: float
    energy_usd: float
    amortized_usd: float | None
    cloud_usd: float | None


def training_estimate(active_params: float, hw: Hardware, a: TrainingAssumptions = TrainingAssumptions(),
                      dtype: str = "bf16") -> TrainingEstimate:
    flops = 6.0 * active_params * a.tokens
    peak, _ = hw.peak(dtype)
    chip_hours = flops / (peak * a.mfu) / 3600.0
    wall_hours = chip_hours / a.chips
    tdp_kw = (hw.tdp_w or 0.0) / 1000.0
    energy_kwh = tdp_kw * a.power_ratio * a.pue * chip_hours
    amortized = None
    if hw.price_usd:
        amortized = (hw.price_usd * a.chips * (1 + a.network_overhead)
                     / (a.lifetime_years * HOURS_PER_YEAR * a.utilisation) * wall_hours)
    cloud = hw.cloud_usd_per_hour * chip_hours if hw.cloud_usd_per_hour else None
    return TrainingEstimate(flops, chip_hours, wall_hours / 24, energy_kwh / 1000,
                            energy_kwh * a.electricity_usd_per_kwh, amortized, cloud)


def serving_usd_per_million_tokens(report: CostReport) -> float | None:
    price = report.hardware.cloud_usd_per_hour
    if not price or report.tokens_per_s <= 0:
        return None
    return report.workload.devices * price / (report.tokens_per_s * 3600.0) * 1e6


def thinking_budget(report: CostReport, budget_tokens: int) -> tuple[float, float | None]:
    """(seconds, dollars) to produce ``budget_tokens`` reasoning tokens for one request batch."""
    seconds = report.ttft_s + budget_tokens * report.tpot_s
    per_m = serving_usd_per_million_tokens(report)
    return seconds, (per_m * budget_tokens * report.workload.batch / 1e6 if per_m else None)
