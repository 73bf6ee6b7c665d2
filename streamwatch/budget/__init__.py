"""Budget: how many analyses may be made, across every camera (and every box of an account)."""

from streamwatch.budget.backend import BackendHealth, BackendMode, BudgetBackend, DayCount
from streamwatch.budget.denial import BudgetDenied, DenialReason
from streamwatch.budget.ledger import CallLedger
from streamwatch.budget.limiter import BudgetState, CallBudget, CallPermit
from streamwatch.budget.local import LocalBackend
from streamwatch.budget.priority import Priority

__all__ = [
    "BackendHealth",
    "BackendMode",
    "BudgetBackend",
    "BudgetDenied",
    "BudgetState",
    "CallBudget",
    "CallLedger",
    "CallPermit",
    "DayCount",
    "DenialReason",
    "LocalBackend",
    "Priority",
]
