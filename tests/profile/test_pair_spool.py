"""The contest's and the group rule's values on disk through the EM (issue 11): every row
range reads back the rows that were written."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.profile.pair_spool import SpooledRows


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 12), st.integers(1, 6)),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_every_row_range_reads_back_what_was_written(
    shape: tuple[int, int], density: float, seed: int, data: st.DataObject
) -> None:
    rng = np.random.default_rng(seed)
    matrix = sp.random(*shape, density=density, format="csr", random_state=rng)
    matrix.data[::3] = 0.0  # explicit zeros stay entries
    matrix.data[1::5] = -np.inf
    spooled = SpooledRows(matrix)
    try:
        start = data.draw(st.integers(0, shape[0]))
        stop = data.draw(st.integers(start, shape[0]))
        got, expected = spooled[start:stop], matrix[start:stop]
        assert got.shape == expected.shape
        assert got.indptr.tolist() == expected.indptr.tolist()
        assert got.indices.tolist() == expected.indices.tolist()
        assert got.data.tobytes() == expected.data.tobytes()  # bit for bit, -inf and zeros too
        assert spooled.indptr is matrix.indptr  # the structure is shared, not copied
    finally:
        spooled.close()


def test_rows_are_read_in_ranges() -> None:
    spooled = SpooledRows(sp.csr_matrix(np.eye(3)))
    with pytest.raises(ValueError, match="step 1"):
        spooled[::2]
    spooled.close()
    with pytest.raises(ValueError, match="closed file"):
        spooled[0:1]
