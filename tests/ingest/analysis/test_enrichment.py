"""Oracle tests for ingest.analysis.enrichment: a literal running-sum walk, scipy's ks_2samp and
kstwo, and the notebook baseline (benchmarks.enrichment_baseline)."""

from __future__ import annotations

import weakref
from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy import stats

from benchmarks.enrichment_baseline import baseline_enrichment
from ingest.analysis import enrichment
from ingest.analysis.enrichment import (
    SetIndex,
    enrichment_scores,
    ks_p_values,
    kstwo_sf,
)
from ingest.analysis.ks_pvalues import _INTERPOLANTS, _column_groups

BACKENDS = ["numpy", "torch"]


def walk_oracle(values: np.ndarray, members: np.ndarray) -> tuple[Fraction, int]:
    """The definition, literally: walk the tokens by descending value, +1/k per member and
    -1/(V-k) otherwise, exact rationals. Valid without ties. -> (D, direction)."""
    V, k = len(values), len(members)
    is_member = np.zeros(V, dtype=bool)
    is_member[members] = True
    running, top, bottom = Fraction(0), Fraction(0), Fraction(0)
    for token in sorted(range(V), key=lambda t: -values[t]):
        running += Fraction(1, k) if is_member[token] else -Fraction(1, V - k)
        top, bottom = max(top, running), min(bottom, running)
    return max(top, -bottom), (1 if top > -bottom else -1)


def ks_oracle(values: np.ndarray, members: np.ndarray) -> tuple[Fraction, Fraction]:
    """Exact max and -min of cdf(non-members) - cdf(members) over the distinct values, i.e. the
    top and bottom of our walk at tie-group boundaries: what ks_2samp evaluates, but in integer
    arithmetic (scaled by k(V-k)) so equality between the two sides is exact."""
    V, k = len(values), len(members)
    is_member = np.zeros(V, dtype=bool)
    is_member[members] = True
    a, b = np.sort(values[is_member]), np.sort(values[~is_member])
    grid = np.unique(values)
    scaled = np.searchsorted(b, grid, "right") * k - np.searchsorted(a, grid, "right") * (V - k)
    top, bottom = max(int(scaled.max()), 0), max(-int(scaled.min()), 0)
    return Fraction(top, k * (V - k)), Fraction(bottom, k * (V - k))


def checked_against_ks(logits: np.ndarray, sets: list[np.ndarray], d: torch.Tensor):
    """Yield (f, s, members, ks_2samp result, oracle top, oracle bottom) for every pair, after
    asserting that d equals both the exact running-sum oracle and ks_2samp's statistic."""
    V = logits.shape[1]
    for f in range(len(logits)):
        for s, members in enumerate(sets):
            is_member = np.zeros(V, dtype=bool)
            is_member[members] = True
            ks = stats.ks_2samp(logits[f][is_member], logits[f][~is_member], method="asymp")
            top, bottom = ks_oracle(logits[f], members)
            assert d[f, s].item() == float(max(top, bottom)), (f, s)
            assert d[f, s].item() == pytest.approx(ks.statistic, abs=1e-12), (f, s)
            yield f, s, members, ks, top, bottom


def random_sets(rng: np.random.Generator, V: int, n: int) -> list[np.ndarray]:
    """n random sets with sizes over the whole legal range, plus the edge sizes 1 and V-1."""
    sizes = [1, V - 1, V // 2, V // 2 + 1] + list(rng.integers(1, V, n))
    return [rng.choice(V, k, replace=False) for k in sizes]


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_literal_walk_without_ties(backend):
    rng = np.random.default_rng(0)
    V = 61
    logits = rng.standard_normal((4, V)).astype(np.float32)
    assert len(np.unique(logits[0])) == V
    sets = random_sets(rng, V, 8)
    d, direction = enrichment_scores(torch.from_numpy(logits), SetIndex.build(sets, V), backend=backend)
    for f in range(len(logits)):
        for s, members in enumerate(sets):
            want_d, want_dir = walk_oracle(logits[f], members)
            assert d[f, s].item() == float(want_d), (f, s)
            assert direction[f, s].item() == want_dir, (f, s)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_ks_2samp_with_ties(backend):
    """Integer logits tie heavily. d must be ks_2samp's statistic (and the exact rational), and
    direction == -statistic_sign except on exact max/-min ties, which must give -1 (ks_2samp
    picks statistic_sign=+1 on equality, but its float rounding can break an exact tie)."""
    rng = np.random.default_rng(1)
    V = 40
    exact_ties = exact_ties_complemented = 0
    for _trial in range(30):
        logits = rng.integers(-3, 4, (3, V)).astype(np.float32)
        sets = random_sets(rng, V, 4)
        index = SetIndex.build(sets, V)
        d, direction = enrichment_scores(torch.from_numpy(logits), index, backend=backend)
        for f, s, _members, ks, top, bottom in checked_against_ks(logits, sets, d):
            if top == bottom:
                exact_ties += 1
                exact_ties_complemented += int(index.complemented[s])
                assert direction[f, s].item() == -1
            else:
                assert direction[f, s].item() == -ks.statistic_sign
                assert direction[f, s].item() == (1 if top > bottom else -1)
    assert exact_ties > 5 and exact_ties_complemented > 0  # the tie rule was really exercised


@pytest.mark.parametrize("backend", BACKENDS)
def test_tie_paths_agree_with_ks_2samp_at_larger_vocab(backend, monkeypatch):
    """Few ties (numpy fixes those pairs alone), many ties (whole-row correction), a constant
    row (d = 0, and 0 == -0 is an exact tie: direction -1)."""
    rng = np.random.default_rng(2)
    V = 3000
    few = rng.standard_normal(V).astype(np.float32)
    few[:20] = few[20:40]  # 40 tied tokens <= V/64: the pair-by-pair path
    many = np.round(rng.standard_normal(V) * 20).astype(np.float32)
    logits = np.stack([few, many, np.zeros(V, np.float32), -few])
    sets = random_sets(rng, V, 6)
    sets.append(np.arange(0, 40))  # every member tied
    paths = []
    real = enrichment._tied_pairs
    monkeypatch.setattr(enrichment, "_tied_pairs", lambda *a: paths.append(r := real(*a)) or r)
    d, direction = enrichment_scores(torch.from_numpy(logits), SetIndex.build(sets, V), backend=backend)
    if backend == "numpy":
        assert sorted(r is None for r in paths) == [False, False, True, True]
    for f, s, _members, ks, top, bottom in checked_against_ks(logits, sets, d):
        assert direction[f, s].item() == (1 if top > bottom else -1), (f, s)
        if top != bottom:
            assert direction[f, s].item() == -ks.statistic_sign, (f, s)
    assert d[2].eq(0).all() and direction[2].eq(-1).all()


@pytest.mark.parametrize("key_limit", [enrichment.INT32_KEY_LIMIT, 0])  # int32 keys, and int64 ones
def test_backends_identical_and_minus_zero_ties_zero(key_limit, monkeypatch):
    monkeypatch.setattr(enrichment, "INT32_KEY_LIMIT", key_limit)
    monkeypatch.setattr(enrichment, "_DEVICE_ARRAYS", weakref.WeakKeyDictionary())
    rng = np.random.default_rng(3)
    V = 5000
    logits = rng.standard_normal((6, V)).astype(np.float32)
    logits[:, :30] = 0.0
    logits[:, 30:60] = -0.0  # ks_2samp compares with ==, so -0.0 ties 0.0
    logits[1] = np.round(logits[1] * 10)
    sets = [rng.choice(V, k, replace=False) for k in (1, 7, 300, 2400, 2600, 4999)]
    sets.append(np.arange(30, 60))  # the -0.0 tokens against the 0.0 ones
    index = SetIndex.build(sets, V)
    d_np, dir_np = enrichment_scores(torch.from_numpy(logits), index, backend="numpy", n_threads=2)
    d_t, dir_t = enrichment_scores(torch.from_numpy(logits), index, backend="torch", max_elements=V)
    assert torch.equal(d_np, d_t) and torch.equal(dir_np, dir_t)
    assert d_np.dtype == torch.float64 and dir_np.dtype == torch.int8
    key_dtype = enrichment._device_index(index, torch.device("cpu"))["key_offset"].dtype
    assert key_dtype == (torch.int32 if key_limit else torch.int64)
    for s in (3, 6):
        top, bottom = ks_oracle(logits[0], sets[s])
        assert d_np[0, s].item() == float(max(top, bottom))


@pytest.mark.parametrize("backend", BACKENDS)
def test_tie_groups_mixing_members_and_non_members_at_the_extremes(backend, monkeypatch):
    """The walk's max / min falls right at tie groups of one member and one non-member: only
    the group-boundary evaluation (hi in after_j, lo in before_j) gives ks_2samp's value.
    40 tied tokens <= V/64: the numpy backend fixes them pair by pair."""
    paths = []
    real = enrichment._tied_pairs
    monkeypatch.setattr(enrichment, "_tied_pairs", lambda *a: paths.append(r := real(*a)) or r)
    V = 4000
    values = np.arange(V, 0, -1).astype(np.float32)  # distinct, token 0 highest
    top_members, bottom_members = np.arange(0, 10), np.arange(V - 10, V)
    values[10:20] = values[0:10]  # each top member tied with a non-member
    values[V - 20 : V - 10] = values[V - 10 :]  # each bottom member tied with a non-member
    logits = np.stack([values, -values])
    # which of two tied tokens the sort puts first is arbitrary: cover members first and second
    sets = [
        top_members,
        top_members + 10,
        bottom_members,
        bottom_members - 10,
        np.concatenate([top_members, bottom_members]),
    ]
    d, direction = enrichment_scores(torch.from_numpy(logits), SetIndex.build(sets, V), backend=backend)
    assert all(r is not None for r in paths) and len(paths) == (2 if backend == "numpy" else 0)
    for f in range(2):
        for s, members in enumerate(sets):
            top, bottom = ks_oracle(logits[f], members)
            assert d[f, s].item() == float(max(top, bottom)), (f, s)
            assert direction[f, s].item() == (1 if top > bottom else -1), (f, s)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_logits_are_not_rounded_into_ties(backend):
    """1 and 1 + 1e-12 tie in float32 but not in float64: float64 input is scored as given."""
    rng = np.random.default_rng(8)
    V = 200
    logits = rng.standard_normal((2, V))
    logits[:, 100:150] = logits[:, 50:100] + 1e-12
    members = np.arange(100, 150)  # each member just above a non-member
    d, _ = enrichment_scores(torch.from_numpy(logits), SetIndex.build([members], V), backend=backend)
    for f in range(2):
        top, bottom = ks_oracle(logits[f], members)
        assert d[f, 0].item() == float(max(top, bottom))


def test_complement_has_same_d_and_opposite_direction():
    rng = np.random.default_rng(4)
    V = 101
    logits = torch.from_numpy(rng.standard_normal((5, V)).astype(np.float32))
    small = rng.choice(V, 20, replace=False)
    large = np.setdiff1d(np.arange(V), small)
    index = SetIndex.build([small, large], V)
    assert list(index.complemented) == [False, True] and list(index.set_sizes) == [20, 81]
    d, direction = enrichment_scores(logits, index)
    assert torch.equal(d[:, 0], d[:, 1])
    assert torch.equal(direction[:, 0], -direction[:, 1])  # no exact max/-min tie without ties


def test_baseline_equals_enrichment_scores():
    rng = np.random.default_rng(5)
    V = 500
    logits = torch.from_numpy(rng.standard_normal((7, V)).astype(np.float32))
    sets = random_sets(rng, V, 10)
    d, _ = enrichment_scores(logits, SetIndex.build(sets, V))
    np.testing.assert_allclose(baseline_enrichment(logits, sets), d.numpy(), rtol=0, atol=1e-6)


def test_p_values_match_ks_2samp_asymp():
    rng = np.random.default_rng(6)
    V = 1000
    # n_eff = k(V-k)/V = 0.999, 9.9, 29.1, 65.1, 127.5 (half to even: 128), 240: round, not ceil
    sets = [rng.choice(V, k, replace=False) for k in (1, 10, 30, 70, 150, 400, 990)]
    logits = rng.standard_normal((6, V)).astype(np.float32)
    for f, shift in enumerate([0.0, 0.1, 0.3, 0.6, 1.0, 3.0]):  # from null-like to very enriched
        logits[f, sets[f % len(sets)]] += shift
        logits[f, sets[4]] += shift / 3
    index = SetIndex.build(sets, V)
    d, _ = enrichment_scores(torch.from_numpy(logits), index)
    p = ks_p_values(d.numpy(), index.set_sizes, V)
    assert p.shape == d.shape
    assert ((p > 1e-6) & (p < 0.5)).sum() >= 5  # where an off-by-one n would show
    for f in range(len(logits)):
        for s, members in enumerate(sets):
            is_member = np.zeros(V, dtype=bool)
            is_member[members] = True
            ks = stats.ks_2samp(logits[f][is_member], logits[f][~is_member], method="asymp")
            assert p[f, s] == pytest.approx(ks.pvalue, abs=1e-9, rel=1e-9), (f, s)


@pytest.mark.parametrize("V, k", [(18, 9), (34, 17), (24, 6)])
def test_p_values_round_n_eff_half_to_even(V, k):
    """k(V-k)/V = 4.5, 8.5, 4.5: numpy's round gives 4, 8, 4 (not 5, 9, 5), as ks_2samp does."""
    rng = np.random.default_rng(V)
    logits = rng.standard_normal((4, V)).astype(np.float32)
    members = rng.choice(V, k, replace=False)
    d, _ = enrichment_scores(torch.from_numpy(logits), SetIndex.build([members], V))
    p = ks_p_values(d.numpy(), np.array([k]), V)
    is_member = np.zeros(V, dtype=bool)
    is_member[members] = True
    for f in range(len(logits)):
        ks = stats.ks_2samp(logits[f][is_member], logits[f][~is_member], method="asymp")
        assert p[f, 0] == pytest.approx(ks.pvalue, abs=1e-12)


def test_kstwo_sf_matches_scipy_in_every_branch():
    """Points chosen around every branch boundary of scipy's _kolmogn for small and large n."""
    rng = np.random.default_rng(7)
    xs, ns = [], []
    for n in (1, 2, 3, 7, 15, 16, 40, 140, 141, 600):
        edges = [
            0.5 / n,
            1 / n,
            (n - 1) / n,
            0.5,
            np.sqrt(0.754693 / n),
            np.sqrt(4 / n),
            np.sqrt(2.2 / n),
            np.sqrt(370 / n),
            (1.4 / n) ** (2 / 3),
        ]
        x = np.concatenate(
            [
                rng.uniform(0, 1, 12),
                np.sqrt(rng.uniform(0, 40, 12) / n),
                np.outer(edges, [1 - 1e-9, 1, 1 + 1e-9]).ravel(),
                [0.0, 1.0, 1.5],
            ]
        )
        xs.append(x)
        ns.append(np.full(x.shape, n))
    x, n = np.concatenate(xs), np.concatenate(ns)
    want = stats.kstwo.sf(x, n)
    got = kstwo_sf(x, n)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)
    small = (want > 1e-300) & (want < 1e-3)
    np.testing.assert_allclose(got[small], want[small], rtol=1e-9)  # tiny p keep their digits
    assert np.isnan(kstwo_sf(np.array([0.3]), np.array([0.0])))[0]  # kstwo's argcheck: n >= 1


@pytest.mark.parametrize(
    "sets, message",
    [
        ([[0, 1], []], "set 1: empty"),
        ([[0], [0, 1, 2, 3, 4]], "set 1: contains the whole vocabulary"),
        ([[0], [1], [2, 5]], "set 2: token id 5 out of range"),
        ([[-1]], "set 0: token id -1 out of range"),
        ([[1, 2, 2]], "set 0: repeated token ids"),
        ([[0.5]], "set 0: member ids must be a 1-d integer array"),
    ],
)
def test_build_rejects_bad_sets(sets, message):
    with pytest.raises(ValueError, match=message):
        SetIndex.build([np.asarray(s) for s in sets], vocab_size=5)


def test_scores_reject_bad_logits():
    index = SetIndex.build([np.array([0, 1])], 5)
    with pytest.raises(ValueError, match=r"\[n_features, 5\]"):
        enrichment_scores(torch.zeros(2, 6), index)
    with pytest.raises(ValueError, match="NaN"):
        enrichment_scores(torch.tensor([[0.0, float("nan"), 1, 2, 3]]), index)


@pytest.mark.parametrize("n_threads", [2, 3, 8])
def test_p_values_in_threads_equal_one_thread_bit_for_bit(n_threads):
    """Sets shared among threads (equal n kept together) change no bit, and each thread's group holds
    whole n-classes: no interpolant is ever built by two threads."""
    rng = np.random.default_rng(11)
    V = 50257
    sizes = np.array([5, 5, 40, 40, 40, 300, 1200, 7000, 7000, 30000, 45000, 12])
    d = rng.uniform(0, 0.3, size=(64, sizes.size)).astype(np.float32)
    _INTERPOLANTS.clear()
    one = ks_p_values(d, sizes, V, n_threads=1)
    _INTERPOLANTS.clear()
    several = ks_p_values(d, sizes, V, n_threads=n_threads)
    assert np.array_equal(one.view(np.int64), several.view(np.int64))
    k = sizes.astype(np.float64)
    n_eff = np.round(np.maximum(k, V - k) * np.minimum(k, V - k) / V)
    groups = _column_groups(n_eff, n_threads)
    assert sorted(np.concatenate(groups).tolist()) == list(range(sizes.size))
    assert len(groups) == min(n_threads, np.unique(n_eff).size)
    owners = {value: {i for i, g in enumerate(groups) if value in n_eff[g]} for value in np.unique(n_eff)}
    assert all(len(owner) == 1 for owner in owners.values())
