"""CPU lists for `--loadgen-cpus`: what is accepted, what is refused with the fix, and the
CPUs left to the servers. Pure: no process is moved."""

from __future__ import annotations

import pytest

from common.cpu_placement import CpuListError, parse_cpu_list, servers_cpus

FOUR = {0, 1, 2, 3}


@pytest.mark.parametrize(("text", "cpus"), [
    ("1", {1}),
    ("2,3", {2, 3}),
    ("1-3", {1, 2, 3}),
    (" 0 , 2-3 ", {0, 2, 3}),
    ("3,3", {3}),
])
def test_lists_and_ranges_name_cpus(text, cpus):
    assert parse_cpu_list(text, FOUR) == cpus


@pytest.mark.parametrize(("text", "message"), [
    ("", "is not a list of CPU numbers"),
    ("one", "is not a list of CPU numbers"),
    ("-1", "is not a list of CPU numbers"),
    ("3-1", "is not a list of CPU numbers"),
    ("1,,2", "is not a list of CPU numbers"),
    ("1.5", "is not a list of CPU numbers"),
    ("4", "CPU 4 is not one this process may use: give CPUs among 0,1,2,3"),
    ("0-99999999999999", "CPU 99999999999999 is not one this process may use"),
])
def test_a_bad_list_names_the_problem_and_the_fix(text, message):
    with pytest.raises(CpuListError, match=message.replace(".", r"\.")):
        parse_cpu_list(text, FOUR)


def test_a_cpu_outside_a_containers_cpuset_is_refused():
    with pytest.raises(CpuListError, match="give CPUs among 2,3"):
        parse_cpu_list("1", {2, 3})


def test_the_servers_get_the_other_cpus_and_at_least_one():
    assert servers_cpus({3}, FOUR) == {0, 1, 2}
    with pytest.raises(CpuListError, match="leave none to the servers: leave at least one"):
        servers_cpus(FOUR, FOUR)
