"""MLflow autologging as a ``%%mlops run`` cell uses it, without MLflow's own deprecation noise.

MLflow's scikit-learn autolog computes training metrics after every ``fit`` of a classifier
(``mlflow/sklearn/utils.py``, ``_get_classifier_metrics``) and passes the class probabilities to
``sklearn.metrics.log_loss`` as ``y_pred=``. scikit-learn 1.9 renamed that argument to
``y_proba`` (scikit-learn PR #33740) and warns with a ``FutureWarning`` on every call, so each
``%%mlops run`` that fits a classifier printed a warning about code the user never wrote.
MLflow's ``silent=True`` does not hide it: MLflow re-enables warnings around the scikit-learn
functions it calls, and the warning is attributed to scikit-learn, not to MLflow.

The filter below is scoped to that one MLflow function and to that one message, for the length
of a cell: a user's own ``log_loss(y, y_pred=p)`` still warns, as it should.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: The message scikit-learn 1.9 warns with when ``log_loss`` gets ``y_pred=``.
Y_PRED_RENAMED = r"`y_pred` was renamed to `y_proba`"
# MLflow's function that computes a classifier's training metrics, in mlflow.sklearn.utils.
_CLASSIFIER_METRICS = "_get_classifier_metrics"


@contextmanager
def quiet_autolog_metrics() -> Iterator[None]:
    """While the block runs, MLflow's sklearn autolog computes its classifier metrics without
    scikit-learn's ``y_pred`` rename warning.

    Does nothing when MLflow's sklearn flavor cannot be imported or no longer has the function
    (a later MLflow that passes ``y_proba`` needs no filter).
    """
    try:
        from mlflow.sklearn import utils
    except ImportError:
        yield
        return
    original = getattr(utils, _CLASSIFIER_METRICS, None)
    if original is None or getattr(original, "__wrapped__", None) is not None:
        yield  # not there, or already quieted by an enclosing block
        return
    setattr(utils, _CLASSIFIER_METRICS, _without_y_pred_warning(original))
    try:
        yield
    finally:
        setattr(utils, _CLASSIFIER_METRICS, original)


def _without_y_pred_warning(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=Y_PRED_RENAMED, category=FutureWarning)
            return function(*args, **kwargs)

    return quiet
