"""FLModel: what a training script receives and sends (FLARE's nvflare.app_common.abstract.fl_model)."""

from enum import Enum


class ParamsType(str, Enum):
    FULL = "FULL"
    DIFF = "DIFF"


class FLMetaKey:
    NUM_STEPS_CURRENT_ROUND = "NUM_STEPS_CURRENT_ROUND"
    PROCESSED_ALGORITHM = "PROCESSED_ALGORITHM"
    PROCESSED_KEYS = "PROCESSED_KEYS"
    INITIAL_METRICS = "initial_metrics"
    FILTER_HISTORY = "filter_history"
    CONFIGS = "configs"
    VALIDATE_TYPE = "validate_type"
    START_ROUND = "start_round"
    CURRENT_ROUND = "current_round"
    TOTAL_ROUNDS = "total_rounds"
    JOB_ID = "job_id"
    SITE_NAME = "site_name"
    SUBMIT_MODEL_NAME = "submit_model_name"


class FLModel:
    """The unit of exchange: params (a dict of arrays or tensors), their type, metrics and meta.

    As in FLARE: params given without a type are FULL; ``current_round`` and ``total_rounds`` are
    None when unknown.
    """

    def __init__(
        self,
        params_type=None,
        params=None,
        optimizer_params=None,
        metrics=None,
        start_round=0,
        current_round=None,
        total_rounds=None,
        meta=None,
    ):
        if params_type is not None:
            params_type = ParamsType(params_type)  # accepts "FULL" / "DIFF" too
        elif params:
            params_type = ParamsType.FULL
        self.params_type = params_type
        self.params = params
        self.optimizer_params = optimizer_params
        self.metrics = metrics
        self.start_round = start_round
        self.current_round = current_round
        self.total_rounds = total_rounds
        self.meta = {} if meta is None else meta

    def __repr__(self):
        names = list(self.params.keys()) if isinstance(self.params, dict) else self.params
        return (
            f"FLModel(params_type={self.params_type.value if self.params_type else None}, params={names}, "
            f"metrics={self.metrics}, current_round={self.current_round}, total_rounds={self.total_rounds}, "
            f"meta={self.meta})"
        )
