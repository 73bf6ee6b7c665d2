"""How much a call matters when calls are scarce.

A new face's first call and a mask change decide alerts: they go first. A better picture, an
undecided state or a refresh improves what is already known: it goes only when calls are not
short. The call policy (selection/policy.py) says which a candidate is; the budget keeps part
of every period's calls (`budget.reserved_calls`) for the high ones, on one box and across a
fleet. A low call goes at once or not at all (dropped; the policy offers it again): waiting,
it would hold its camera's call loop while a new face waited behind it. A high call waits for
its turn, up to its frame's `max_age_s`.
"""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    HIGH = "high"  # a new face's first call, a mask change
    LOW = "low"  # a better picture, an undecided state, a refresh
