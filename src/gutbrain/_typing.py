"""Array type aliases shared by the numeric modules (one definition, imported everywhere).

``IntArray`` holds indices and counts (``int64``); ``FloatArray`` holds likelihoods, weights and
abundances (``float64``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "IntArray"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
