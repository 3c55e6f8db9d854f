"""Defaults the command line shows in --help, kept here so that --help imports nothing heavy.

They must equal the library's own (tests/cli/test_cli_startup.py checks): the site of
``narvik.site.DEFAULT_SITE`` and the scenario of ``narvik.scenario.DEFAULT_SCENARIO``.
"""

from __future__ import annotations

#: Site of ``narvik site show`` and ``narvik facility year`` (= narvik.site.DEFAULT_SITE).
DEFAULT_SITE = "stargate-norway"

#: Scenario of ``narvik simulate`` (= narvik.scenario.DEFAULT_SCENARIO).
DEFAULT_SCENARIO = "stargate-norway"

#: Policies of ``narvik simulate --policy`` (= narvik.sched.registry.policy_names()).
POLICIES = ("easy", "fcfs", "kueue", "narvik", "slurm")
