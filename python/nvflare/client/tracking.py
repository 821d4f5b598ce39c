"""Experiment tracking (FLARE's nvflare.client.tracking): scalars a training script logs reach the
server job, whose TBAnalyticsReceiver writes them to TensorBoard event files under
``<job workspace>/tb_events/<site>/``.

    from nvflare.client.tracking import SummaryWriter
    writer = SummaryWriter()
    writer.add_scalar("loss", loss, global_step=step)
    writer.add_scalars("accuracy", {"train": a, "val": b}, global_step=step)

Only scalars are supported here (TensorBoard's add_scalar / add_scalars, FLARE's flare.log with
data_type SCALAR / SCALARS); other calls raise NotImplementedError naming them.
"""


__all__ = ["SummaryWriter"]


def _client():
    from nvflare import client

    return client._native()


def _number(value, what):
    try:
        x = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} is not a number: {value!r}") from None
    return x


def _log(key, value, data_type=None, global_step=None, **kwargs):
    kind = getattr(data_type, "name", data_type) or "SCALAR"
    kind = str(kind).upper()
    step = int(global_step) if global_step is not None else 0
    if kind == "SCALAR":
        _client().log_scalar(str(key), _number(value, f"metric '{key}'"), step)
    elif kind == "SCALARS":
        values = {str(k): _number(v, f"metric '{key}/{k}'") for k, v in dict(value).items()}
        _client().log_scalars(str(key), values, step)
    else:
        raise NotImplementedError(f"flare.log: data_type {kind} is not supported (SCALAR and SCALARS are)")


class SummaryWriter:
    """TensorBoard's SummaryWriter calls, sent to the server (FLARE's tracking SummaryWriter)."""

    def add_scalar(self, tag, scalar, global_step=None, **kwargs):
        _log(tag, scalar, "SCALAR", global_step)

    def add_scalars(self, tag, scalars, global_step=None, **kwargs):
        _log(tag, scalars, "SCALARS", global_step)

    def flush(self):
        pass

    def close(self):
        pass

    def __getattr__(self, name):
        if name.startswith("add_"):
            raise NotImplementedError(f"SummaryWriter.{name} is not supported here (add_scalar and add_scalars are)")
        raise AttributeError(name)
