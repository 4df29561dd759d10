"""Hand-checked figures of the cost model: roofline times, quantized weight sizes, tensor
parallelism, fitting, and the survey's section 7 economics."""
from __future__ import annotations

import pytest

from models.catalog import find
from models.cost import Workload, cost_report
from models.dtypes import dtype
from models.economics import TrainingAssumptions, thinking_budget, training_estimate
from models.hardware import get_hardware, local_cpu
from models.spec import SpecError


def test_quantized_bits_include_group_metadata():
    assert dtype("int4").bits(128) == 4.25
    assert dtype("int4").bits(32) == 5.0
    assert dtype("nf4").bits() == pytest.approx(4.127, abs=1e-3)
    assert dtype("fp4").bits() == 4.25
    assert dtype("ternary").bits() == 1.6


def test_int4_weights_keep_embeddings_at_16_bits():
    spec = find("llama-3-8b").spec()
    r = cost_report(spec, Workload(weights="int4", group_size=128))
    p = r.params
    assert r.memory.weights == pytest.approx(p.quantizable * 4.25 / 8 + p.kept * 2)
    assert p.kept >= 2 * 128256 * 4096      # embeddings and untied LM head


def test_decode_is_bandwidth_bound_and_matches_hand_roofline():
    """Llama 3 8B, batch 1, bf16 on an H100 SXM: every weight but the embedding table (of which a
    lookup reads one row) is read once per token."""
    spec = find("llama-3-8b").spec()
    r = cost_report(spec, Workload(context=1024, batch=1))
    hw = get_hardware("h100-sxm")
    weights_s = (r.memory.weights - 128256 * 4096 * 2) / (hw.bandwidth * 0.8)
    assert r.tpot_s == pytest.approx(weights_s, rel=0.03)   # + KV reads and activations
    assert all(op.bound == "memory" for op in r.decode.ops if op.flops)


def test_prefill_is_compute_bound_and_matches_hand_roofline():
    spec = find("llama-3-8b").spec()
    r = cost_report(spec, Workload(context=8192, batch=1))
    peak = get_hardware("h100-sxm").peak_flops["bf16"]
    assert r.ttft_s == pytest.approx(r.prefill.flops / (peak * 0.7), rel=0.03)


def test_tensor_parallel_splits_memory_and_adds_communication():
    spec = find("llama-3.1-405b").spec()
    one = cost_report(spec, Workload(devices=1, weights="fp8"))
    eight = cost_report(spec, Workload(devices=8, weights="fp8"))
    assert not one.memory.fits and eight.memory.fits
    comm = [op for op in eight.decode.ops if op.kind == "comm"]
    assert comm and comm[0].count == 2 * spec.num_layers
    assert eight.tpot_s < one.tpot_s


def test_max_batch_and_context_are_tight():
    spec = find("mistral-7b").spec()
    base = Workload(context=8192, hardware="rtx-4090")
    r = cost_report(spec, base)
    assert r.max_batch > 0
    from dataclasses import replace
    assert cost_report(spec, replace(base, batch=r.max_batch)).memory.fits
    assert not cost_report(spec, replace(base, batch=r.max_batch + 1)).memory.fits


def test_gpt3_training_compute_matches_survey_table5():
    """Survey Table 5: GPT-3 (175B, 300B tokens) 3,640 PF-days = 3.14e23 FLOPs; 6ND gives 3.15e23."""
    est = training_estimate(175e9, get_hardware("a100-sxm-80gb"), TrainingAssumptions(tokens=300e9))
    assert est.flops == pytest.approx(3640 * 1e15 * 86400, rel=0.01)


def test_energy_follows_survey_eq63():
    hw = get_hardware("h100-sxm")
    a = TrainingAssumptions(tokens=1e12)
    est = training_estimate(7e9, hw, a)
    assert est.energy_mwh * 1000 == pytest.approx(est.chip_hours * hw.tdp_w / 1000 * a.power_ratio * a.pue)


def test_thinking_budget_latency():
    r = cost_report(find("qwen3-8b").spec(), Workload(context=2048))
    seconds, _ = thinking_budget(r, 4000)
    assert seconds == pytest.approx(r.ttft_s + 4000 * r.tpot_s)


def test_local_cpu_is_detected():
    cpu = local_cpu()
    assert cpu.memory_bytes > 2**30 and cpu.peak_flops["fp32"] > 1e9 and cpu.estimate


def test_compared_figures_read_as_people_write_them():
    """A tenfold or larger change reads as a factor, not "+112478.9%"; nothing that fits says so."""
    from dataclasses import replace

    from models.metrics import metric_rows
    from models.params import count_params
    small, big = find("qwen3-0.6b").spec(), find("deepseek-v3").spec()
    wl = Workload(context=4096, hardware="h100-sxm")
    rows = {r.key: r for r in metric_rows(cost_report(big, wl), cost_report(small, wl))}
    total = rows["paramsTotal"]
    ratio = count_params(big).total / count_params(small).total
    delta = total.delta_text
    assert delta.startswith("+") and delta.endswith(f"(×{ratio:,.0f})") and "%" not in delta
    assert rows["maxBatch"].text == "does not fit" and rows["maxContext"].text == "does not fit"
    near = {r.key: r for r in metric_rows(cost_report(small, replace(wl, batch=2)), cost_report(small, wl))}
    assert near["memKV"].delta_text.endswith("(+100%)")     # whole percent from 100% up, a decimal below


@pytest.mark.parametrize("change", [{"context": 2 ** 30 + 1}, {"batch": 10 ** 200}, {"devices": 2 ** 17},
                                    {"position": 2 ** 31}, {"group_size": 2 ** 21}])
def test_workloads_beyond_any_deployment_are_refused_naming_the_setting(change):
    """Past these limits FLOP counts overflowed floats (an OverflowError, or Infinity in --json)."""
    (name,) = change
    with pytest.raises(SpecError, match=f"^{name}: must be"):
        cost_report(find("llama-3-8b").spec(), Workload(**change))


def test_a_sequence_too_long_for_the_memory_is_not_blamed_on_the_weights():
    r = cost_report(find("qwen3-32b").spec(), Workload(hardware="rtx-4090", weights="int4", context=32768))
    assert r.max_batch == 0 and 0 < r.max_context < 32768
    assert r.notes[0] == f"one sequence of 32,768 tokens does not fit; at batch 1 the largest context that fits is {r.max_context:,}"
    tiny = cost_report(find("llama-3-70b").spec(), Workload(hardware="rtx-4090"))
    assert tiny.max_context == 0 and "not even one token fits" in tiny.notes[0]


@pytest.mark.parametrize("kv", ["nf4", "fp4", "ternary"])
def test_weight_only_formats_are_refused_for_the_kv_cache(kv):
    with pytest.raises(SpecError, match=f"^kv: .*{kv} is a weight-only format"):
        cost_report(find("llama-3-8b").spec(), Workload(kv=kv))


def test_notes_say_when_the_figures_rest_on_an_assumption():
    r = cost_report(find("llama-3-8b").spec(), Workload(devices=3, position=100_000))
    assert any("3 devices do not split 32 attention heads evenly" in n for n in r.notes)
    assert any("position 100,000, beyond the 4,096-token context" in n for n in r.notes)
    assert not cost_report(find("llama-3-8b").spec(), Workload(devices=4)).notes


@pytest.mark.parametrize("typed,suggested", [("a100", "a100-sxm-40gb, a100-sxm-80gb?"), ("h200", "h200-sxm?")])
def test_a_near_miss_device_suggests_the_devices_it_names_first(typed, suggested):
    with pytest.raises(SpecError, match=f"did you mean {suggested}"):
        get_hardware(typed)


def test_what_stopped_the_largest_context_is_named():
    spec = find("qwen3-32b").spec()
    assert cost_report(spec, Workload(hardware="rtx-4090", weights="int4", context=32768)).max_context_limit == "memory"
    assert cost_report(spec, Workload(context=1024, weights="int4")).max_context_limit == "context length"
    long = cost_report(spec, Workload(context=2 * spec.context_length, weights="int4", kv="int4"))
    assert long.max_context == long.workload.context and long.max_context_limit == "context asked"


def test_a_recurrence_that_states_no_context_is_capped_by_the_search_not_the_model():
    """Mamba-2's mamba_ssm config names no context length: the 1M-token cap is the search's, and
    is not called the model's; Mamba-Codestral's 256K is Mistral's own figure."""
    from models.diagram import diagram_model
    mamba = find("mamba2-2.7b").spec()
    assert not mamba.context_stated and mamba.context_length == 1 << 20
    report = cost_report(mamba, Workload(context=2 << 20))
    assert not any("exceeds the model's context length" in n for n in report.notes)
    assert cost_report(mamba, Workload()).max_context_limit == "search cap"
    positions = next(i for i in diagram_model(mamba).overview if i.kind == "position")
    assert "no stated context (costed up to 1,048,576 tokens)" in positions.lines
    codestral = find("mamba-codestral-7b").spec()
    assert codestral.context_stated and cost_report(codestral, Workload()).max_context_limit == "context length"


def test_a_fit_that_drops_to_nothing_says_so_once():
    from models.metrics import metric_rows
    small = cost_report(find("llama-3-8b").spec(), Workload(context=8192))
    big = cost_report(find("llama-3-70b").spec(), Workload(context=8192))
    rows = {r.key: r for r in metric_rows(big, small)}
    assert (rows["maxBatch"].text, rows["maxBatch"].delta_text) == ("does not fit", "none fits")
    back = {r.key: r for r in metric_rows(small, big)}
    assert back["maxBatch"].delta_text.startswith("+")


def test_zero_computation_experts_leave_top_k_times_the_real_share():
    """top_k may exceed the real experts when zero-computation ones are there (LongCat cut to 8
    experts keeps top_k 12 of 8 + 256 slots): a token runs 12 x 8/264 real experts on average."""
    from models.overrides import apply_overrides
    from models.params import routed_real_experts
    from models.spec import MoEFFN
    spec = apply_overrides(find("longcat-flash-chat").spec(), {"experts": 8})
    moe = next(f for layer in spec.layers for f in layer.ffns if isinstance(f, MoEFFN))
    assert moe.top_k > moe.experts
    assert routed_real_experts(moe) == pytest.approx(moe.top_k * 8 / (8 + moe.zero_experts))


def test_learned_positions_are_a_lookup_not_active_weights():
    from models.params import count_params
    p = count_params(find("gpt-2").spec())          # tied embeddings, 1,024 learned positions
    assert p.active - p.active_without_embeddings == 1024 * 1600


def test_sparse_attention_pays_off_only_past_its_top_k():
    """DeepSeek-V3.2 against itself made dense (index_topk=0: DeepSeek-V3's MLA): below 2,048 tokens
    DSA only adds its indexer; at 128K a decode step reads 2,048 latent rows instead of 128K, and
    the indexer's 128-d keys (704 instead of 576 cached numbers per token) are what it costs."""
    from models.overrides import apply_overrides
    from models.params import count_params
    sparse = find("deepseek-v3.2-exp").spec()
    dense = apply_overrides(sparse, {"index_topk": 0})
    per_layer_indexer = 1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64
    assert count_params(sparse).total - count_params(dense).total == 61 * per_layer_indexer
    # served as DeepSeek serves it: fp8 weights on 8 GPUs, 32 sequences decoded together
    def at(context):
        wl = Workload(context=context, batch=32, weights="fp8", hardware="h200-sxm", devices=8)
        return cost_report(sparse, wl), cost_report(dense, wl)
    s, d = at(1024)
    assert s.decode.flops > d.decode.flops and s.prefill.time_s > d.prefill.time_s
    s, d = at(131072)
    # 128K: a tenth of the decode FLOPs, under half the prefill time, a third less per token
    assert s.decode.flops < d.decode.flops / 9 and s.prefill.time_s < d.prefill.time_s / 2
    assert s.decode.time_s < 0.7 * d.decode.time_s
    assert s.memory.kv_cache / d.memory.kv_cache == pytest.approx((512 + 64 + 128) / (512 + 64))


def test_sparse_attention_top_k_edits_are_checked():
    from models.overrides import apply_overrides
    with pytest.raises(SpecError, match="no sparse \\(DSA\\) attention") as err:
        apply_overrides(find("deepseek-v3").spec(), {"index_topk": 1024})
    assert err.value.field == "index_topk"
    with pytest.raises(SpecError, match="must be 0"):
        apply_overrides(find("deepseek-v3.2-exp").spec(), {"index_topk": -5})
    edited = apply_overrides(find("deepseek-v3.2-exp").spec(), {"index_topk": 512})
    assert {m.index_topk for layer in edited.layers for m in layer.mixers} == {512}
