"""A strategy's settings: the contract between the operator, the database and the executor."""

from orderflow.strategy.settings import StrategySettings

__all__ = ["StrategySettings"]
