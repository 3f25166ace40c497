"""Dagster's beta APIs the platform builds on, accepted in one place."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import BetaWarning, PreviewWarning


@contextmanager
def beta_accepted() -> Iterator[None]:
    """Observable sources, the automation sensor's code-server evaluation, the code references of a
    component's assets and the loading of a component tree are beta or preview in Dagster 1.13: accepted here once, not warned of at every
    location load and run, where no user could act on the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        warnings.simplefilter("ignore", PreviewWarning)
        yield
