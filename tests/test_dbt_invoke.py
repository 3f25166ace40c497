"""dbt invoked in the platform's process (platform_lib.dbt.invoke): where the platform cuts dbt's
own cost per invocation, dbt answers as it would."""

from __future__ import annotations

import pytest
from dbt_common.behavior_flags import Behavior

from platform_lib.dbt.invoke import _flags_without_reading_the_stack


@pytest.mark.unit
def test_a_behavior_flag_names_the_module_that_registers_it_as_dbt_does():
    _flags_without_reading_the_stack()
    (flag,) = Behavior([{"name": "some_flag", "default": False, "description": "a flag"}], {})._flags
    # dbt's own answer: the first module of the stack other than dbt_common.behavior_flags.
    assert flag._behavior_change_event.flag_source == __name__
