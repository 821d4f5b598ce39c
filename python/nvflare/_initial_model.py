"""Builds a job's initial PyTorch weights from its model class (run once by the server job).

    python3 -m nvflare._initial_model <custom_dir> <module.Class> <args as JSON> <out.safetensors>

The class is imported from the job's custom folder and instantiated with its args; its
state_dict is written as safetensors (8-byte header length, JSON header, raw little-endian data),
which the native server reads without Python.
"""

import importlib
import json
import struct
import sys

_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}


def write_safetensors(state, path):
    import torch

    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().cpu().contiguous()
        dtype = _DTYPES.get(str(t.dtype).replace("torch.", ""))
        if dtype is None:
            raise TypeError(f"state_dict entry '{name}': dtype {t.dtype} is not supported")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    custom_dir, class_path, args_json, out = argv
    sys.path.insert(0, custom_dir)
    module_name, _, class_name = class_path.rpartition(".")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        print(f"module {module_name} ({module.__file__}) has no class {class_name}", file=sys.stderr)
        return 1
    model = cls(**json.loads(args_json))
    write_safetensors(model.state_dict(), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
