"""nvflare: the Python face of the native nvflare runtime.

Training scripts written for NVIDIA FLARE (``import nvflare.client as flare``) run here
unchanged; ``nvflare.client`` is a thin layer over the native Client API (``nvflare._native``).
"""

__version__ = "2.7.2"
