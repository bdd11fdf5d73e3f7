"""Hand-made traces of eq. (1) and the BS policies, and cross-checks of the closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnnsplit.errors import InputError
from dnnsplit.model import (
    QUANTA_GUARD,
    bs_completion,
    jain_index,
    local_delay,
    ps_completion,
    rr_completion,
    sjf_completion,
)
from dnnsplit.timeline import timeline_completion


def test_local_delay_trace_between_quanta():
    # T = 25 ms, n = 2 background tasks, q = 10 ms. Slots: DNN 0-10, bg 10-30, DNN 30-40,
    # bg 40-60, DNN 60-65 ms: the task ends at 65 ms.
    assert local_delay(0.025, 2, 0.01, "exact") == pytest.approx(0.065)
    # the paper's closed form interpolates: (n+1)T - nq = 75 - 20 = 55 ms
    assert local_delay(0.025, 2, 0.01, "paper") == pytest.approx(0.055)


def test_local_delay_whole_quanta_forms_agree():
    # T = 30 ms = 3 quanta: DNN ends its third slot at 3*10 + 2*2*10 = 70 ms
    for form in ("paper", "exact"):
        assert local_delay(0.03, 2, 0.01, form) == pytest.approx(0.07)


def test_local_delay_shorter_than_a_quantum_is_the_work():
    # the paper's form would give 3*4 - 2*10 = -8 ms; clamped at T
    for form in ("paper", "exact"):
        assert local_delay(0.004, 2, 0.01, form) == pytest.approx(0.004)
        assert local_delay(0.0, 2, 0.01, form) == 0.0
        assert local_delay(0.05, 0, 0.01, form) == pytest.approx(0.05)  # alone: no waiting


def test_local_delay_rejects_unknown_form():
    with pytest.raises(InputError, match="^local_delay: unknown form 'exactly'"):
        local_delay(0.1, 1, 0.01, "exactly")


@given(st.floats(0, 2), st.integers(0, 5), st.sampled_from([0.001, 0.01, 0.1]))
def test_local_delay_bounds(work, background, quantum):
    paper = float(local_delay(work, background, quantum, "paper"))
    exact = float(local_delay(work, background, quantum, "exact"))
    assert paper >= work - 1e-12 and exact >= work - 1e-12
    assert exact <= (background + 1) * work + 1e-9  # never worse than one slot per round
    assert exact >= paper - 1e-9  # the exact form waits the whole last round's background


# work at the BS, seconds: device 3 keeps everything local (not queued)
WORK = np.array([3.0, 1.0, 2.0, 0.0])


def test_sjf_trace():
    # order: dev1 (0-1), dev2 (1-3), dev0 (3-6); dev3 not queued
    assert sjf_completion(WORK).tolist() == [6.0, 1.0, 3.0, 0.0]


def test_sjf_ties_by_device_index():
    # dev2 (0-1), then the tie 2 = 2: dev0 (1-3) before dev1 (3-5)
    assert sjf_completion(np.array([2.0, 2.0, 1.0])).tolist() == [3.0, 5.0, 1.0]


def test_ps_trace():
    # three share the BS at 1/3 each: dev1 done at 3; two at 1/2: dev2 done at 3+2 = 5;
    # dev0 alone for its last unit: 6
    assert ps_completion(WORK).tolist() == [6.0, 3.0, 5.0, 0.0]


def _rr_broadcast(work: np.ndarray, quantum: float) -> np.ndarray:
    """eq. (2) under round-robin by broadcasting over (M, N, N): the reference the compiled
    kernel must equal bit for bit."""
    n = work.shape[-1]
    turns = np.where(work > 0, np.maximum(np.ceil(work / quantum - QUANTA_GUARD), 1), 0)
    before, after = turns * quantum, np.maximum(turns - 1, 0) * quantum
    served = np.where(
        np.tri(n, n, -1, dtype=bool),
        np.minimum(work[..., None, :], before[..., :, None]),
        np.minimum(work[..., None, :], after[..., :, None]),
    )
    np.einsum("...ii->...i", served)[...] = 0.0
    return np.where(work > 0, work + served.sum(axis=-1), 0.0)


@given(
    st.integers(1, 300).flatmap(
        lambda n: st.lists(
            st.lists(
                st.one_of(
                    st.just(0.0), st.floats(1e-6, 5.0), st.integers(1, 300).map(lambda k: k * 0.01)
                ),
                min_size=n,
                max_size=n,
            ),
            min_size=1,
            max_size=4,
        )
    ),
    st.sampled_from([0.001, 0.01, 0.05, 1.0]),
)
def test_rr_kernel_equals_the_broadcast_formula_bit_for_bit(rows, quantum):
    """Any N (past NumPy's 8-lane and 128-block sums), zero work, exact multiples of the
    quantum: the compiled round-robin equals the formula by broadcasting exactly."""
    work = np.array(rows)
    assert np.array_equal(rr_completion(work, quantum), _rr_broadcast(work, quantum))
    assert np.array_equal(rr_completion(work[0], quantum), _rr_broadcast(work[0], quantum))


def test_rr_trace_quantum_one():
    # q = 1: dev0 0-1, dev1 1-2 (done), dev2 2-3, dev0 3-4, dev2 4-5 (done), dev0 5-6 (done)
    assert rr_completion(WORK, 1.0).tolist() == [6.0, 2.0, 5.0, 0.0]


def test_rr_trace_partial_slices():
    # q = 0.5: dev0 0-0.5, dev1 0.5-1.0 (done), dev0 1.0-1.5, 1.5-1.7 (done)
    assert rr_completion(np.array([1.2, 0.5]), 0.5) == pytest.approx([1.7, 1.0])


def test_rr_with_a_huge_quantum_serves_in_index_order():
    assert rr_completion(WORK, 100.0).tolist() == [3.0, 4.0, 6.0, 0.0]


def test_policy_dispatch_and_unknown_policy():
    assert bs_completion(WORK, "sjf", 1.0).tolist() == [6.0, 1.0, 3.0, 0.0]
    with pytest.raises(InputError, match="^bs.policy: unknown policy 'lifo'"):
        bs_completion(WORK, "lifo", 1.0)


def test_jain_index():
    assert jain_index(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert jain_index(np.array([1.0, 0.0])) == pytest.approx(0.5)


def test_timeline_traces():
    release = np.array([0.0, 0.5, 0.2, 9.0])
    work = np.array([1.0, 0.2, 0.5, 0.0])
    # sjf non-preemptive: dev0 0-1; at 1 both released, dev1 (0.2) 1-1.2, dev2 1.2-1.7
    assert timeline_completion(release, work, "sjf", 0.1) == pytest.approx([1.0, 1.2, 1.7, 9.0])
    # fcfs: dev0 0-1, dev2 (released 0.2) 1-1.5, dev1 1.5-1.7
    assert timeline_completion(release, work, "fcfs", 0.1) == pytest.approx([1.0, 1.7, 1.5, 9.0])
    # rr q=0.4: dev0 0-0.4; dev2 (arrived 0.2) queued before dev0 returns: dev2 0.4-0.8;
    # dev1 (arrived 0.5) queued before dev2 returns: dev0 0.8-1.2, dev1 1.2-1.4 (done),
    # dev2 1.4-1.5 (done), dev0 1.5-1.7 (done)
    assert timeline_completion(release, work, "rr", 0.4) == pytest.approx([1.7, 1.4, 1.5, 9.0])
    # ps: dev0 alone 0-0.2 (0.8 left); with dev2 until 0.5 (each +0.15: 0.65, 0.35 left);
    # three share: dev1 (0.2) needs 0.6 s -> 1.1 (dev0 0.45, dev2 0.15 left); two share:
    # dev2 done at 1.4; dev0 alone: 0.3 left -> 1.7
    assert timeline_completion(release, work, "ps", 0.1) == pytest.approx([1.7, 1.1, 1.4, 9.0])


positive_work = st.lists(
    st.one_of(st.just(0.0), st.sampled_from([0.01, 0.02, 0.05]), st.floats(0.0, 1.0)),
    min_size=1,
    max_size=7,
)


@given(positive_work, st.sampled_from([0.005, 0.01, 0.1]))
def test_closed_forms_equal_the_event_simulation_at_time_zero(work, quantum):
    """The snapshot policies are the timeline model with every task released at 0."""
    work = np.array(work)
    zero = np.zeros_like(work)
    for policy, closed in (
        ("sjf", sjf_completion(work)),
        ("ps", ps_completion(work)),
        ("rr", rr_completion(work, quantum)),
    ):
        simulated = timeline_completion(zero, work, policy, quantum)
        assert closed == pytest.approx(simulated, rel=1e-9, abs=1e-12), policy


@given(positive_work)
def test_ps_is_the_limit_of_round_robin(work):
    work = np.array(work)
    assert rr_completion(work, 1e-6) == pytest.approx(ps_completion(work), abs=1e-4)


@given(
    st.lists(positive_work, min_size=1, max_size=5).filter(
        lambda rows: len({len(r) for r in rows}) == 1
    )
)
def test_batch_rows_equal_single_vectors(rows):
    batch = np.array(rows)
    for policy in ("sjf", "ps", "rr"):
        together = bs_completion(batch, policy, 0.01)
        for row, values in zip(batch, together, strict=True):
            assert bs_completion(row[None, :], policy, 0.01)[0] == pytest.approx(values)


def test_policies_have_one_display_name():
    from dnnsplit.policies import POLICY_TABLE, display_name

    assert [display_name(p) for p in POLICY_TABLE] == ["SJF", "PS", "RR", "FCFS"]
    assert display_name("all-local") == "all-local"  # not a policy: as it is
