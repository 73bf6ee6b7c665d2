"""How much a call matters when calls are scarce.

A new face's first call and a mask change decide alerts: they go first. A better picture, an
undecided state or a refresh improves what is already known: it waits while calls are short.
The call policy (selection/policy.py) says which a candidate is; the budget keeps part of every
period's calls (`budget.reserved_calls`) for the high ones, on one box and across a fleet.
"""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    HIGH = "high"  # a new face's first call, a mask change
    LOW = "low"  # a better picture, an undecided state, a refresh
