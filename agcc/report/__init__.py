"""The replication report (notebook 09): every table and figure of the paper beside this run's,
the differences measured - paper, and a verdict on each claim the paper makes about them.

Everything here reads the run's artifacts (``artifacts/<profile>/``, :mod:`agcc.paths`) and the
paper's values (:mod:`agcc.paper`); nothing is copied by hand, so the report is regenerated with
every build and cannot go stale without showing it (:func:`inventory` lists each artifact's
modification time). The statistics and the four verdicts are :mod:`agcc.stats`'.

Modules of agcc.report
----------------------
:mod:`~agcc.report.artifacts`
    what the report reads, who writes it, when; the run record and the data it describes
:mod:`~agcc.report.claims`
    a claim and its verdict; the claims as a table, selected by id, counted
:mod:`~agcc.report.table_i`, :mod:`~agcc.report.figures`, :mod:`~agcc.report.table_ii`
    Table I and Fig. 1-2 (Sec. II-C), Table II (Sec. IV): measured beside the paper, and claims
:mod:`~agcc.report.summary`
    the report's opening: what was reproduced, how closely, on which data and setup
:mod:`~agcc.report.display`
    styled HTML tables and captioned figures
"""
from ..stats import (ALPHA, CANNOT, FAILS, HOLDS, NOT_SHOWN, VERDICTS, combine, interval_verdict,  # noqa: F401
                     p_verdict, t_interval, welch_interval)
from .artifacts import *  # noqa: F401,F403
from .claims import *  # noqa: F401,F403
from .display import *  # noqa: F401,F403
from .figures import *  # noqa: F401,F403
from .summary import *  # noqa: F401,F403
from .table_i import *  # noqa: F401,F403
from .table_ii import *  # noqa: F401,F403
