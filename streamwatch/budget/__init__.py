"""Budget: how many analyses may be made, across every camera."""

from streamwatch.budget.ledger import CallLedger
from streamwatch.budget.limiter import (
    BudgetDenied,
    BudgetState,
    CallBudget,
    CallPermit,
    DenialReason,
)

__all__ = [
    "BudgetDenied",
    "BudgetState",
    "CallBudget",
    "CallLedger",
    "CallPermit",
    "DenialReason",
]
