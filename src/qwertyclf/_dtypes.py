"""The tensor dtypes of model files, in one table.

The safetensors container (`qwertyclf._safetensors`) needs each dtype's size
and NumPy type to check and read a file's tensors; the model-file codec
(`qwertyclf._persistence`) needs the dtypes a `QwertyNet` holds to check a
file's tensors against the network. Both read them here.
"""

from __future__ import annotations

import torch

#: Bytes per element of every safetensors dtype.
ITEMSIZE = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "U16": 2,
    "I16": 2,
    "F16": 2,
    "BF16": 2,
    "U32": 4,
    "I32": 4,
    "F32": 4,
    "U64": 8,
    "I64": 8,
    "F64": 8,
}
#: The dtypes a network holds: safetensors name -> (torch, little-endian NumPy).
NETWORK_DTYPES = {
    "F32": (torch.float32, "<f4"),
    "F64": (torch.float64, "<f8"),
    "I64": (torch.int64, "<i8"),
}
#: A network's torch dtype -> its safetensors name.
DTYPE_NAMES = {torch_dtype: name for name, (torch_dtype, _) in NETWORK_DTYPES.items()}
