"""agcc — an executable replication of *Mouth Articulation-Based Anchoring for Improved
Cross-Corpus Speech Emotion Recognition* (Upadhyay, Salman, Busso, Lee).

One module per pipeline stage; notebooks in ``notebooks/`` call them in order. Start with
:func:`agcc.setup` at the top of a notebook; :mod:`agcc.params` holds the profiles and
:mod:`agcc.runner` executes the whole book.
"""
import warnings

warnings.filterwarnings("ignore", message="h5py not installed")  # tslearn prints the venv path

from .notebook import Context, setup
from .params import ParameterError

__all__ = ["Context", "ParameterError", "setup"]
__version__ = "0.1.0"
