"""The one exception the engine never catches: the simulated death of the whole process."""

from __future__ import annotations


class ProcessDeath(BaseException):
    """A SIGKILL modelled as an exception (the testing kit raises it inside user code).

    Every guard of the engine lets it through, so nothing runs after it that a killed process
    would not run: no report, no mark, no commit. The user's own ``finally`` blocks and
    ``wrap()`` exits do run (it is still an exception). Nothing outside the testing kit
    raises it.
    """
