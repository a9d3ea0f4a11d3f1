"""Executing a ResponsePlan: the adapters differ only in how they move bytes."""
