"""Budget: how many analyses may be made, across every camera."""

from streamwatch.budget.limiter import CallBudget

__all__ = ["CallBudget"]
