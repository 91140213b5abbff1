"""Matchers: composable predicates over inputs (``m1 & m2``, ``m1 | m2``, ``~m``).

Routers, upstream selection and conditional layers use them to decide where an input goes.
"""

from pyrama_core.matcher._matcher import (
    Always,
    And,
    BaseMatcher,
    FnMatcher,
    Matcher,
    Never,
    Not,
    Or,
    match_fn,
)

__all__ = [
    "Always",
    "And",
    "BaseMatcher",
    "FnMatcher",
    "Matcher",
    "Never",
    "Not",
    "Or",
    "match_fn",
]
