import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from narvik.sched.placement import Placer, Topology, blocks_used, hall_gpus, place


def _free(topo: Topology) -> np.ndarray:
    return np.full(topo.domains, topo.domain_gpus, dtype=np.int64)


def test_small_job_best_fit():
    topo = Topology.uniform(domains=4, domain_gpus=8, domains_per_block=2)
    free = np.array([3, 8, 8, 8])
    doms, takes = place(free, topo, 2)  # the tightest domain that holds 2
    assert doms.tolist() == [0] and takes.tolist() == [2]
    doms, _ = place(free, topo, 4)  # domain 0 is too small: lowest full one
    assert doms.tolist() == [1]


def test_gang_fits_in_one_block_with_fewest_domains():
    topo = Topology.uniform(domains=6, domain_gpus=8, domains_per_block=2)
    free = np.array([0, 8, 8, 8, 8, 8])  # block 0 is half used
    doms, takes = place(free, topo, 12)  # 1 whole + 4: block 0 has room for the remainder
    assert sorted(doms.tolist()) == [0, 1] or blocks_used(topo, doms) == 1
    assert takes.sum() == 12 and len(doms) == 2 and blocks_used(topo, doms) == 1


def test_gang_remainder_uses_partial_domain_in_same_block():
    topo = Topology.uniform(domains=4, domain_gpus=8, domains_per_block=2)
    doms, _ = place(np.array([4, 8, 8, 8]), topo, 12)
    assert sorted(doms.tolist()) == [0, 1] and blocks_used(topo, doms) == 1


def test_gang_spans_blocks_when_it_must():
    topo = Topology.uniform(domains=6, domain_gpus=8, domains_per_block=2)
    doms, takes = place(_free(topo), topo, 40)  # 5 domains: three blocks
    assert doms.shape[0] == 5 and blocks_used(topo, doms) == 3 and takes.sum() == 40


def test_fragmented_pool_makes_the_job_wait():
    topo = Topology.uniform(domains=3, domain_gpus=8, domains_per_block=3)
    free = np.array([3, 3, 3])  # 9 GPUs free, but no domain holds 4 and none is whole
    assert place(free, topo, 4) is None
    assert place(free, topo, 9) is None
    assert place(free, topo, 3) is not None


def test_placer_works_on_a_copy_and_keeps_counts():
    topo = Topology.uniform(domains=2, domain_gpus=4, domains_per_block=1)
    source = [_free(topo), _free(topo)]
    p = Placer(source, [topo, topo])
    a = p.place([1, 0], 3)
    assert a == ((1, 0, 3),) and p.counts == [8, 5]
    assert source[1].tolist() == [4, 4]  # the view's arrays are never changed
    b = p.place([1], 2)  # domain 0 of hall 1 has 1 left: the next domain
    assert b == ((1, 1, 2),)
    assert p.place([1], 4) is None  # hall 1 has 3 free in pieces of 1 and 2


def test_gang_across_halls_on_whole_domains():
    topo = Topology.uniform(domains=2, domain_gpus=4, domains_per_block=1)
    p = Placer([np.array([4, 0]), np.array([4, 1])], [topo, topo])
    assert p.place([0, 1], 6) is None  # no hall alone holds 4 + 2 on two domains
    got = p.place_across([0, 1], 5)
    assert got is not None
    assert sum(c for _, _, c in got) == 5 and len(got) == 2
    assert hall_gpus(got) == ((0, 4), (1, 1))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 8), min_size=6, max_size=6),
    st.integers(1, 48),
)
def test_place_takes_the_fewest_domains_or_nothing(free_list, gpus):
    topo = Topology.uniform(domains=6, domain_gpus=8, domains_per_block=3)
    free = np.array(free_list, dtype=np.int64)
    got = place(free, topo, gpus)
    if got is None:
        return
    doms, takes = got
    assert takes.sum() == gpus
    assert len(set(doms.tolist())) == doms.shape[0] == -(-gpus // 8)
    assert np.all(takes <= free[doms])
