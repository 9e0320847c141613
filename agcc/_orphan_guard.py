"""Imported by the forkserver of :func:`agcc.io.parallel_map` (its preload list): the forkserver
then ends when the process that started it ends, instead of living on as an orphan."""
from agcc.io import exit_with_parent

exit_with_parent()
