"""What the property-based tests share: hypothesis' settings, and the check of what preprocessing
makes of an input (a well-formed network input, or its own PreprocessError and nothing else)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings

from bengali_digit.limits import STATUS_BY_CODE, PreprocessError
from bengali_digit.preprocess import SIZE

# No example database in the tree; no deadline, because the machine is shared with training.
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(run, *args) -> str:
    """Run the module; check its answer or its refusal; return the code ("ok" for an answer)."""
    try:
        x = run(*args)
    except PreprocessError as err:
        assert err.code in STATUS_BY_CODE and err.status == STATUS_BY_CODE[err.code], (err.code, err.status)
        assert isinstance(err.message, str) and err.message, err.code
        return err.code
    assert x.shape == (SIZE, SIZE) and x.dtype == np.float32, (x.shape, x.dtype)
    assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0, (x.min(), x.max())
    return "ok"
