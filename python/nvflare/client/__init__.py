"""FLARE's Client API (``import nvflare.client as flare``) over the native nvflare client.

    flare.init()
    while flare.is_running():
        model = flare.receive()            # FLModel: the global model of this task
        ...train on model.params...
        flare.send(flare.FLModel(params=new_params, metrics={"accuracy": acc}))

Params arrive as NumPy arrays, or as torch tensors when the job exchanges PyTorch
(``params_exchange_format: pytorch``). They are views of the buffers the model was received
into: NumPy arrays are read-only (copy one to change it in place); torch tensors share that memory
too, so change them only after ``tensor.clone()``. ``send`` takes NumPy arrays, torch tensors or a
``state_dict`` and copies them once into native buffers; with ``params_transfer_type: DIFF`` the
difference to the received model is computed natively.

Errors from the native client (the client job went away, the server refused a result, ...) are
raised as ``RuntimeError`` carrying the native message.
"""

import json
import os

from nvflare.app_common.abstract.fl_model import FLMetaKey, FLModel, ParamsType

__all__ = [
    "FLModel",
    "ParamsType",
    "FLMetaKey",
    "init",
    "receive",
    "send",
    "is_running",
    "is_train",
    "is_evaluate",
    "is_submit_model",
    "system_info",
    "get_site_name",
    "get_job_id",
    "get_task_name",
    "get_config",
    "log",
    "clear",
    "shutdown",
]

_client = None
_current = None  # the task received and not yet answered (FLARE caches it the same way)
_task_name = ""

# safetensors dtype names <-> NumPy dtype names (bfloat16 has no NumPy type: see _to_numpy).
_NP_OF = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}
_DTYPE_OF_NP = {v: k for k, v in _NP_OF.items()}


def _exchange_format():
    return os.environ.get("NVFLARE_PARAMS_EXCHANGE_FORMAT", "numpy").lower()


def _native():
    if _client is None:
        raise RuntimeError("nvflare.client: call flare.init() first")
    return _client


def init(rank=None, config_file=None):
    """Connects to the client job that started this script. A second call is ignored.

    ``rank``: in a multi-process trainer only rank 0 talks to nvflare; other ranks return at once.
    ``config_file`` is accepted for FLARE compatibility and not needed (the launcher's environment
    says where to connect).
    """
    global _client
    if _client is not None:
        return
    if rank is not None and str(rank) != "0":
        return
    from nvflare import _native as native

    _client = native.Client.connect()


def _to_python(entries):
    fmt = _exchange_format()
    if fmt == "pytorch":
        import torch

        out = {}
        for name, dtype, shape, flat in entries:
            if dtype == "BF16":  # torch has no uint16: its bits as int16
                t = torch.from_numpy(flat.view("int16")).view(torch.bfloat16)
            else:
                t = torch.from_numpy(flat)
            out[name] = t.reshape(shape)
        return out
    import numpy as np

    out = {}
    for name, dtype, shape, flat in entries:
        if dtype == "BF16":  # NumPy has no bfloat16: widen to float32 (exact)
            a = (flat.astype(np.uint32) << 16).view(np.float32)
        else:
            a = flat
        a = a.reshape(shape)
        a.flags.writeable = False
        out[name] = a
    return out


def _model_of(task):
    h = json.loads(task["header"])
    params = _to_python(task["params"]) if task["params"] else None
    pt = h.get("params_type")
    m = FLModel(
        params_type=pt if pt else None,
        params=params,
        metrics=h.get("metrics") or None,
        start_round=h.get("start_round", 0),
        current_round=h.get("current_round"),
        total_rounds=h.get("total_rounds"),
        meta=h.get("meta") or {},
    )
    return m


def _fetch():
    global _current, _task_name
    task = _native().receive()
    if task is None:
        _current = None
        return None
    _task_name = task["task_name"]
    _current = _model_of(task)
    return _current


def receive(timeout=None):
    """The model of the current task; waits for the next task when there is none. None when the
    run is over. (``timeout`` is accepted and, as in FLARE's external-process mode, ignored.)"""
    if _current is not None:
        return _current
    return _fetch()


def is_running():
    """True while there is a task to answer (waits for the next one when needed)."""
    if _client is None:
        return False
    if _current is not None:
        return True
    return _fetch() is not None


def _entry(name, value):
    """(name, dtype, shape, buffer) for the native client."""
    mod = type(value).__module__
    if mod.startswith("torch"):
        import torch

        t = value.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous()
        names = {
            torch.float64: "F64",
            torch.float32: "F32",
            torch.float16: "F16",
            torch.bfloat16: "BF16",
            torch.int64: "I64",
            torch.int32: "I32",
            torch.int16: "I16",
            torch.int8: "I8",
            torch.uint8: "U8",
            torch.bool: "BOOL",
        }
        if t.dtype not in names:
            raise TypeError(f"param '{name}': torch dtype {t.dtype} is not supported")
        flat = t.reshape(-1)
        raw = flat.view(torch.uint8) if flat.numel() > 0 and t.dtype != torch.bool else flat
        return (name, names[t.dtype], list(t.shape), raw.numpy())
    import numpy as np

    a = np.ascontiguousarray(value)
    dtype = _DTYPE_OF_NP.get(a.dtype.name)
    if dtype is None:
        raise TypeError(f"param '{name}': NumPy dtype {a.dtype} is not supported (use one of {sorted(_DTYPE_OF_NP)})")
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return (name, dtype, list(a.shape), a)


def _json_safe(value, where):
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where} cannot be sent: {e}") from None


def _json_default(o):
    if hasattr(o, "item"):  # NumPy and torch scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def send(model, clear_cache=True):
    """Sends the result of the current task; returns once the client job has it."""
    global _current
    client = _native()
    if not isinstance(model, FLModel):
        raise TypeError(f"flare.send() takes an FLModel, not {type(model).__name__}")
    if _current is None:
        raise RuntimeError("flare.send(): no task was received (call flare.receive() first)")
    if model.params is None and model.metrics is None:
        raise ValueError("flare.send(): the FLModel has neither params nor metrics")
    entries = []
    if model.params is not None:
        if not isinstance(model.params, dict):
            raise TypeError("FLModel.params must be a dict of arrays or tensors")
        entries = [_entry(str(k), v) for k, v in model.params.items()]
    metrics = {}
    for k, v in (model.metrics or {}).items():
        try:
            metrics[str(k)] = float(v)
        except (TypeError, ValueError):
            raise TypeError(f"metric '{k}' is not a number: {v!r}") from None
    pt = model.params_type
    if pt is None and model.params is not None:
        pt = ParamsType.FULL
    header = {
        "params_type": ParamsType(pt).value if pt is not None else None,
        "metrics": metrics,
        "meta": _json_safe(model.meta or {}, "FLModel.meta"),
        "current_round": int(model.current_round if model.current_round is not None else _current.current_round or 0),
        "start_round": int(model.start_round or 0),
        "total_rounds": int(model.total_rounds if model.total_rounds is not None else _current.total_rounds or 0),
    }
    client.send(json.dumps(header), entries)
    if clear_cache:
        _current = None


def clear():
    """Forgets the current task (FLARE's flare.clear())."""
    global _current
    _current = None


def get_site_name():
    return _native().site_name()


def get_job_id():
    return _native().job_id()


def get_task_name():
    return _task_name


def is_train():
    return _task_name == "train"


def is_evaluate():
    return _task_name == "validate"


def is_submit_model():
    return _task_name == "submit_model"


def system_info():
    return {"site_name": get_site_name(), "job_id": get_job_id()}


def get_config():
    """The client API settings this script runs with (FLARE's client_api_config layout)."""
    c = _native()
    return {
        "SITE_NAME": c.site_name(),
        "JOB_ID": c.job_id(),
        "TASK_EXCHANGE": {
            "exchange_format": _exchange_format(),
            "transfer_type": c.params_transfer_type(),
            "train_task_name": "train",
            "eval_task_name": "validate",
            "submit_model_task_name": "submit_model",
        },
    }


def log(key, value, data_type=None, **kwargs):
    """Experiment tracking (FLARE's flare.log): see nvflare.client.tracking."""
    from nvflare.client import tracking

    tracking._log(key, value, data_type, **kwargs)


def shutdown():
    global _client, _current
    if _client is not None:
        _client.shutdown()
    _client = None
    _current = None
