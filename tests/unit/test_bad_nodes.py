"""Finding the bad node (plugins/module_utils/bad_nodes.py) on simulated clusters: one bad node among
2, 3, 16, 256 and 1024, two bad nodes, a node slow only under load, noisy pairs, odd counts."""

import random
import re
from pathlib import Path

import pytest
from ansible_collections.awsome.ml_cluster.plugins.module_utils import bad_nodes, bad_nodes_report
from ansible_collections.awsome.ml_cluster.plugins.modules import bad_node_search

GOOD_BUSBW = 100.0


def cluster(n):
    return [f"node{i:04d}" for i in range(n)]


SLOW, LOAD_SHARE = 0.3, 0.5


def simulate(bad=(), *, under_load=(), noise=0.0, flaky=None, seed=7):
    """measure(groups) for a cluster whose bad nodes run at SLOW of the good figure; an under-load
    node only when at least LOAD_SHARE of the cluster runs at once; noise is the relative spread of a
    run; flaky: a set of groups (frozensets) whose first run fails for no node's fault."""
    rng, seen, slow = random.Random(seed), set(), SLOW

    def measure(groups):
        busy = sum(len(g) for g in groups)
        results = []
        for group in groups:
            factor = 1.0
            for node in group:
                if node in bad or (node in under_load and busy >= LOAD_SHARE * measure.size):
                    factor = min(factor, slow)
            key = frozenset(group)
            if flaky and key in flaky and key not in seen:
                seen.add(key)
                factor = slow
            results.append(GOOD_BUSBW * factor * (1 + rng.uniform(-noise, noise)))
        return results

    measure.size = 0
    return measure


def find(nodes, measure, **options):
    measure.size = len(nodes)
    search = bad_nodes.new_search(nodes, **options)
    return bad_nodes.run(search, measure), search


def test_one_bad_node_among_three_is_likely_in_three_rounds_and_named_by_the_fourth():
    nodes = cluster(3)
    for culprit in nodes:
        result, _ = find(nodes, simulate({culprit}), expected=GOOD_BUSBW, max_rounds=3)
        assert culprit in result["bad"] + result["likely"] and result["rounds"] <= 3, (culprit, result)
        result, _ = find(nodes, simulate({culprit}), expected=GOOD_BUSBW)
        assert result["bad"] == [culprit] and result["rounds"] <= 4 and result["unresolved"] == []


def test_two_bad_nodes_among_three_name_no_wrong_one():
    nodes = cluster(3)
    result, _ = find(nodes, simulate({nodes[0], nodes[2]}), expected=GOOD_BUSBW)
    assert nodes[1] not in result["bad"] + result["likely"]


@pytest.mark.parametrize("n", [4, 5, 7, 16, 17, 256, 1024, 1025])
def test_one_bad_node_is_named_in_at_most_three_rounds(n):
    nodes = cluster(n)
    for culprit in (nodes[0], nodes[n // 2], nodes[-1]):
        result, _ = find(nodes, simulate({culprit}), expected=GOOD_BUSBW)
        assert result["bad"] == [culprit] and result["unresolved"] == [], (n, culprit, result)
        assert result["rounds"] <= 3 and len(result["good"]) == n - 1


@pytest.mark.parametrize("n", [16, 256, 1024])
def test_an_even_cluster_needs_two_rounds(n):
    result, _ = find(cluster(n), simulate({cluster(n)[5]}))
    assert result["rounds"] == 2


def test_two_nodes_alone_cannot_be_told_apart():
    nodes = cluster(2)
    result, _ = find(nodes, simulate({nodes[1]}), expected=GOOD_BUSBW)
    assert result["bad"] == [] and result["likely"] == [] and result["unresolved"] == nodes
    assert result["rounds"] == 1


def test_two_healthy_nodes_pass_against_a_known_figure():
    result, _ = find(cluster(2), simulate(), expected=GOOD_BUSBW)
    assert result == {"bad": [], "likely": [], "unresolved": [], "good": cluster(2), "rounds": 1, "judged": True}


@pytest.mark.parametrize("pair", ["same pair", "different pairs"])
def test_two_bad_nodes_are_both_named(pair):
    nodes = cluster(64)
    bad = {nodes[10], nodes[11]} if pair == "same pair" else {nodes[10], nodes[41]}
    result, _ = find(nodes, simulate(bad))
    assert set(result["bad"]) == bad and result["unresolved"] == [] and result["rounds"] <= 3


def test_several_bad_nodes_take_more_rounds_but_all_are_named():
    nodes = cluster(32)
    bad = set(nodes[:8])  # four failed pairs of two bad nodes each, plus their neighbours
    result, _ = find(nodes, simulate(bad))
    assert set(result["bad"]) == bad and result["unresolved"] == []


def test_a_node_slow_only_under_load_still_shows():
    # Round 2 keeps every good node running beside the re-pairs, so the load of round 1 stays.
    nodes = cluster(64)
    result, search = find(nodes, simulate(under_load={nodes[20]}))
    assert result["bad"] == [nodes[20]]
    assert all(sum(len(g) for g in r["groups"]) >= 62 for r in search["rounds"])


def test_noise_within_the_tolerance_names_no_one():
    result, _ = find(cluster(256), simulate(noise=0.08))
    assert result["bad"] == [] and result["unresolved"] == [] and result["rounds"] == 1


def test_a_pair_that_fails_once_for_no_nodes_fault_names_no_one():
    nodes = cluster(16)
    result, _ = find(nodes, simulate(flaky={frozenset(nodes[4:6])}))
    assert result["bad"] == [] and result["unresolved"] == [] and result["rounds"] == 2


def test_noise_and_a_bad_node_together():
    nodes = cluster(1024)
    result, _ = find(nodes, simulate({nodes[777]}, noise=0.1))
    assert result["bad"] == [nodes[777]] and result["rounds"] <= 3


def test_larger_groups_are_bisected_and_rounds_grow_with_log_n():
    for n in (64, 256, 1024):
        nodes = cluster(n)
        result, search = find(nodes, simulate({nodes[n // 3]}), group_size=n // 4)
        assert result["bad"] == [nodes[n // 3]]
        assert len(search["rounds"][0]["groups"]) == 4
        assert result["rounds"] <= 2 + (n // 4).bit_length()


def test_round_one_pairs_disjoint_neighbours_and_an_odd_last_triple():
    groups = bad_nodes.plan(bad_nodes.new_search(cluster(5)))
    assert groups == [["node0000", "node0001"], ["node0002", "node0003", "node0004"]]


def test_without_a_figure_the_first_rounds_median_is_the_baseline():
    search = bad_nodes.new_search(cluster(6), tolerance=0.2)
    verdicts = bad_nodes.record(search, bad_nodes.plan(search), [100.0, 40.0, 95.0])
    assert search["rounds"][0]["threshold"] == pytest.approx(76.0) and verdicts == [True, False, True]


def test_a_run_that_failed_is_a_failed_group():
    search = bad_nodes.new_search(cluster(4), expected=GOOD_BUSBW)
    assert bad_nodes.record(search, bad_nodes.plan(search), [None, 100.0]) == [False, True]
    assert search["status"]["node0000"] == bad_nodes.SUSPECT


def test_nothing_to_compare_with_is_not_judged():
    result, _ = find(cluster(3), simulate({cluster(3)[0]}))
    assert result["judged"] is False and result["bad"] == []


@pytest.mark.parametrize(
    ("nodes", "options", "says"),
    [
        (["a"], {}, "at least two nodes"),
        (["a", "b", "a"], {}, "listed twice"),
        (["a", "b"], {"group_size": 1}, "group_size"),
        (["a", "b"], {"tolerance": 1.5}, "tolerance"),
    ],
)
def test_bad_input_is_refused(nodes, options, says):
    with pytest.raises(ValueError, match=says):
        bad_nodes.new_search(nodes, **options)


def test_results_must_match_the_groups():
    search = bad_nodes.new_search(cluster(4))
    with pytest.raises(ValueError, match="2 groups but 1 results"):
        bad_nodes.record(search, bad_nodes.plan(search), [1.0])


RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "bad_nodes"


def test_a_jobs_busbw_is_read_at_the_judged_size_from_its_recorded_output():
    healthy = (RECORDED / "pair-healthy.out").read_text()
    slow = (RECORDED / "pair-slow.out").read_text()
    assert bad_node_search.busbw_of(slow, "all_reduce", 16 << 20) == pytest.approx(0.012)
    assert bad_node_search.busbw_of(healthy, "all_reduce", 16 << 20) > 0.1
    # another size, another collective, a run cut short, wrong results: no figure, never a guess
    assert bad_node_search.busbw_of(healthy, "all_reduce", 1 << 30) is None
    assert bad_node_search.busbw_of(healthy, "all_gather", 16 << 20) is None
    assert bad_node_search.busbw_of(healthy.split("    16777216")[0], "all_reduce", 16 << 20) is None
    wrong = re.sub(r"(\d)(\s+)0\n", r"\1\g<2>7\n", healthy, count=1)
    assert bad_node_search.busbw_of(wrong, "all_reduce", 16 << 20) is None


def test_nodes_slurm_cannot_run_are_refused():
    states = {"ml-c1": "IDLE", "ml-c2": "IDLE+DRAIN", "ml-c3": "DOWN*", "ml-c4": "MIXED"}
    assert bad_node_search.refusals(["ml-c1", "ml-c4"], states) == []
    problems = bad_node_search.refusals(["ml-c1", "ml-c2", "ml-c3", "ml-c9"], states)
    assert problems[0].startswith("not Slurm nodes: ml-c9 (Slurm knows ml-c1, ml-c2")
    assert problems[1] == "drained or down, so they run no job: ml-c2 (IDLE+DRAIN), ml-c3 (DOWN*)"


def test_the_report_names_the_bad_node_and_each_nodes_best_pair(tmp_path):
    def job(i, nodes, busbw):
        return {"id": str(i), "state": "COMPLETED", "nodes": nodes, "busbw": busbw}

    result = {
        "verdict": {"bad": ["c4"], "likely": [], "unresolved": [], "good": ["c1", "c2", "c3"], "rounds": 2},
        "rounds": [
            {
                "jobs": [job(1, ["c1", "c2"], 0.28), job(2, ["c3", "c4"], 0.012)],
                "passed": [True, False],
                "threshold": 0.1,
            },
            {
                "jobs": [job(3, ["c3", "c1"], 0.26), job(4, ["c4", "c2"], None)],
                "passed": [True, False],
                "threshold": 0.1,
            },
        ],
        "seconds": 39.0,
        "judged_against": 0.146,
    }
    text = bad_nodes_report.markdown(result, "Search", "p.png")
    assert "**Bad: c4** (2 rounds, 39 s)." in text
    assert "| 2 | c4, c2 | 4 (COMPLETED) | failed | 0.1 | no |" in text
    assert "| c2 | 2 | 0.28 | good |" in text and "| c4 | 2 | 0.012 | bad |" in text
    bad_nodes_report.plot(result, "Search", tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_nodes_under_one_leaf_switch_are_paired_first():
    leaves = {"leaf1": ["n1", "n3"], "leaf2": ["n2", "n4"]}
    order = bad_nodes.topology_order(["n1", "n2", "n3", "n4", "n5"], leaves)
    assert order == ["n1", "n3", "n2", "n4", "n5"]  # n5 is under no known switch: last
    search = bad_nodes.new_search(order)
    assert bad_nodes.plan(search) == [["n1", "n3"], ["n2", "n4", "n5"]]
    assert bad_nodes.topology_order(["n2", "n1"], {}) == ["n2", "n1"]
