"""dlib's ResNet face descriptor, run with NumPy.

dlib's ``face_recognition_model_v1`` (99.38 % on LFW) is a 29-layer ResNet
that maps a 150×150 aligned face chip to a 128-d descriptor; two faces whose
descriptors lie less than 0.6 apart are the same person. The prebuilt
``dlib-bin`` wheel runs it without BLAS, at 130–300 ms per face on this
machine. This module reads the very same weights from the ``.dat`` file that
ships in the ``face_recognition_models`` package and runs the network as
im2col + matrix products in NumPy (OpenBLAS), about four times faster, and
batched. The output equals dlib's own ``compute_face_descriptor`` to within
1e-5 (tests/test_faces.py checks it).

Only the layer types this network uses are supported: ``input_rgb_image_sized``,
``con``, ``affine``, ``relu``, ``max_pool``, ``avg_pool``, ``add_prev`` (the
residual sums) and ``fc``. The file is parsed by following dlib's
serialisation format (integers with a length/sign control byte, floats as
mantissa and exponent, tensors as little-endian float32).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..jobs import ModelUnavailableError

__all__ = [
    "DlibModelError",
    "dlib_model_file",
    "DlibResNet",
    "load_dlib_resnet",
]

#: File names inside ``face_recognition_models/models``.
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150


class DlibModelError(ModelUnavailableError):
    """A dlib model file is missing or not in the expected format."""


def dlib_model_file(name: str) -> Path:
    """Path of a model file shipped in the ``face_recognition_models`` package.

    The package is located without importing it (its ``__init__`` needs
    ``pkg_resources``, which recent setuptools no longer provides).

    Raises
    ------
    DlibModelError
        If the package or the file is missing; the message says how to fix it.

    Examples
    --------
    >>> dlib_model_file(RESNET_FILE).name
    'dlib_face_recognition_resnet_model_v1.dat'
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DlibModelError(
            "The face descriptor needs the Python package 'face_recognition_models' "
            "(dlib's model files). How to fix: pip install face_recognition_models"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    raise DlibModelError(
        f"The model file {name!r} is missing from the face_recognition_models package. "
        "How to fix: pip install --force-reinstall face_recognition_models"
    )


class _Reader:
    """Sequential reader for dlib's serialisation format."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise DlibModelError("the dlib model file ends too early (damaged download?)")

    def int(self) -> int:
        self._need(1)
        control = self.data[self.pos]
        self.pos += 1
        size = control & 0x0F
        self._need(size)
        value = int.from_bytes(self.data[self.pos : self.pos + size], "little")
        self.pos += size
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0**exponent

    def str(self) -> str:
        size = self.int()
        self._need(size)
        text = self.data[self.pos : self.pos + size].decode("ascii", "replace")
        self.pos += size
        return text

    def bool(self) -> bool:
        self._need(1)
        char = self.data[self.pos : self.pos + 1]
        self.pos += 1
        if char not in (b"0", b"1"):
            raise DlibModelError("unexpected byte in the dlib model file")
        return char == b"1"

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise DlibModelError("unsupported tensor version in the dlib model file")
        size = self.int() * self.int() * self.int() * self.int()
        self._need(4 * size)
        array = np.frombuffer(self.data, "<f4", size, self.pos).astype(np.float32)
        self.pos += 4 * size
        return array

    def alias(self) -> tuple[int, int, int, int]:
        if self.int() != 1:
            raise DlibModelError("unsupported alias_tensor version in the dlib model file")
        return (self.int(), self.int(), self.int(), self.int())


@dataclass
class _Layer:
    kind: str
    params: dict = field(default_factory=dict)


def _parse(data: bytes) -> tuple[np.ndarray, int, list[_Layer]]:
    marker = b"\x15input_rgb_image_sized"
    start = data.find(marker)
    if start < 1:
        raise DlibModelError("not a dlib face recognition model (no input_rgb_image_sized layer)")
    r = _Reader(data, start - 1)
    r.str()
    mean = np.array([r.float(), r.float(), r.float()], np.float32)
    rows, cols = r.int(), r.int()
    if rows != cols:
        raise DlibModelError("unexpected input size in the dlib model file")
    layers: list[_Layer] = []
    while r.pos < len(data):
        name = r.str()
        if name == "con_4":
            params = r.tensor()
            n_filters, _, _, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(7))
            shape = r.alias()
            r.alias()
            for _ in range(4):
                r.float()
            n = int(np.prod(shape))
            weights = params[:n].reshape(shape)  # (out, in, kh, kw)
            kh, kw = shape[2], shape[3]
            matrix = np.ascontiguousarray(weights.transpose(2, 3, 1, 0).reshape(kh * kw * shape[1], n_filters))
            layers.append(_Layer("con", {"w": matrix, "b": params[n : n + n_filters], "k": (kh, kw),
                                         "stride": (stride_y, stride_x), "pad": (pad_y, pad_x)}))
        elif name == "affine_":
            params = r.tensor()
            r.alias()
            r.alias()
            r.int()  # mode
            half = len(params) // 2
            layers.append(_Layer("affine", {"g": params[:half], "b": params[half:]}))
        elif name in ("max_pool_2", "avg_pool_2"):
            nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
            if pad_y or pad_x:
                raise DlibModelError("padded pooling is not supported")
            layers.append(_Layer(name[:3], {"k": (nr, nc), "stride": (stride_y, stride_x)}))
        elif name == "relu_":
            layers.append(_Layer("relu"))
        elif name == "add_prev_":
            layers.append(_Layer("add"))
        elif name == "fc_2":
            n_out, n_in = r.int(), r.int()
            params = r.tensor()
            r.alias()
            r.alias()
            has_bias = r.int() == 0  # FC_HAS_BIAS = 0, FC_NO_BIAS = 1
            for _ in range(4):
                r.float()
            bias = params[n_in * n_out : n_in * n_out + n_out] if has_bias else None
            layers.append(_Layer("fc", {"w": params[: n_in * n_out].reshape(n_in, n_out), "b": bias}))
        else:
            raise DlibModelError(f"unsupported layer {name!r} in the dlib model file")
        # add_layer's own fields: three flags and three (empty) tensors.
        r.bool(), r.bool(), r.bool()
        r.tensor(), r.tensor(), r.tensor()
        if len(layers) == 1:
            r.int()  # the bottom layer also stores its sample expansion factor
    if not layers or layers[-1].kind != "fc":
        raise DlibModelError("the dlib model file has no final fc layer")
    return mean, rows, layers


def _windows(x: np.ndarray, kh: int, kw: int, sy: int, sx: int) -> tuple[list[np.ndarray], int, int]:
    _, h, w, _ = x.shape
    ho, wo = (h - kh) // sy + 1, (w - kw) // sx + 1
    parts = [x[:, i : i + sy * (ho - 1) + 1 : sy, j : j + sx * (wo - 1) + 1 : sx, :]
             for i in range(kh) for j in range(kw)]
    return parts, ho, wo


def _conv(x: np.ndarray, layer: _Layer) -> np.ndarray:
    p = layer.params
    (kh, kw), (sy, sx), (py, px) = p["k"], p["stride"], p["pad"]
    if (sy, sx) == (1, 1) and (py, px) == (kh // 2, kw // 2):
        return _conv_same(x, layer)
    if py or px:
        x = np.pad(x, ((0, 0), (py, py), (px, px), (0, 0)))
    parts, ho, wo = _windows(x, kh, kw, sy, sx)
    cols = np.concatenate(parts, axis=-1).reshape(-1, p["w"].shape[0])
    out = cols @ p["w"]
    out += p["b"]
    return out.reshape(x.shape[0], ho, wo, -1)


def _conv_same(x: np.ndarray, layer: _Layer) -> np.ndarray:
    """Stride-1 "same" convolution without an im2col copy.

    In the padded input flattened to rows of channels, the input of output
    pixel ``r`` under filter tap ``(i, j)`` is row ``r + i * width + j``: each
    tap is one matrix product on a contiguous slice. Rows that straddle an
    edge are computed and thrown away.
    """
    p = layer.params
    (kh, kw), (py, px) = p["k"], p["pad"]
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (py, py), (px, px), (0, 0)))
    hp, wp = h + 2 * py, w + 2 * px
    flat = padded.reshape(-1, c)
    rows = len(flat) - ((kh - 1) * wp + (kw - 1))
    taps = p["w"].reshape(kh, kw, c, -1)
    out = np.empty((len(flat), taps.shape[-1]), np.float32)
    acc = out[:rows]
    np.matmul(flat[:rows], taps[0, 0], out=acc)
    for i in range(kh):
        for j in range(kw):
            if i or j:
                offset = i * wp + j
                acc += flat[offset : offset + rows] @ taps[i, j]
    acc += p["b"]
    return out.reshape(n, hp, wp, -1)[:, :h, :w, :]


def _pool(x: np.ndarray, layer: _Layer) -> np.ndarray:
    (kh, kw), (sy, sx) = layer.params["k"], layer.params["stride"]
    if kh == 0:  # pool everything
        return x.mean(axis=(1, 2), keepdims=True)
    parts, _, _ = _windows(x, kh, kw, sy, sx)
    if layer.kind == "max":
        out = parts[0].copy()
        for part in parts[1:]:
            np.maximum(out, part, out=out)
        return out
    out = parts[0].astype(np.float32, copy=True)
    for part in parts[1:]:
        out += part
    return out / len(parts)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev: tensors of different shapes are zero-padded to the larger one."""
    if a.shape == b.shape:
        return a + b
    shape = tuple(max(i, j) for i, j in zip(a.shape, b.shape))
    out = np.zeros(shape, np.float32)
    out[: a.shape[0], : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


def _fold_affine(layers: list[_Layer]) -> list[_Layer]:
    """Fold each ``affine`` (a frozen batch norm) into the convolution before it."""
    out: list[_Layer] = []
    for layer in layers:
        if layer.kind == "affine" and out and out[-1].kind == "con":
            conv = out[-1].params
            g, b = layer.params["g"], layer.params["b"]
            conv["w"] = np.ascontiguousarray(conv["w"] * g)
            conv["b"] = conv["b"] * g + b
            continue
        out.append(layer)
    return out


class DlibResNet:
    """dlib's face descriptor network (``dlib_face_recognition_resnet_model_v1``).

    Parameters
    ----------
    path : path, optional
        The ``.dat`` file; defaults to the copy in ``face_recognition_models``.
    batch_size : int
        Chips per forward pass (larger batches use BLAS better).

    Examples
    --------
    >>> net = DlibResNet()
    >>> net.compute(np.full((1, 150, 150, 3), 128, np.uint8)).shape
    (1, 128)
    """

    def __init__(self, path: str | Path | None = None, *, batch_size: int = 16) -> None:
        path = Path(path) if path is not None else dlib_model_file(RESNET_FILE)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DlibModelError(f"cannot read the dlib model file {path}: {exc}") from None
        self.path = path
        self.mean, self.chip_size, layers = _parse(data)
        self.layers = _fold_affine(layers)
        self.batch_size = batch_size

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - self.mean) / np.float32(256.0)
        block_input: np.ndarray | None = None
        shortcut: np.ndarray | None = None
        at_block_start = False
        after_add = False
        for layer in self.layers:
            kind = layer.kind
            if kind == "con":
                if at_block_start:
                    block_input, at_block_start = x, False
                x = _conv(x, layer)
            elif kind == "affine":
                x *= layer.params["g"]
                x += layer.params["b"]
            elif kind == "relu":
                np.maximum(x, 0, out=x)
                if after_add:
                    at_block_start, after_add = True, False
            elif kind == "max":
                x = _pool(x, layer)
                at_block_start = True
            elif kind == "avg":
                if layer.params["k"][0] == 0:
                    x = _pool(x, layer)
                else:  # the down-sampling shortcut of a residual block
                    shortcut = _pool(block_input, layer)
            elif kind == "add":
                x = _add(x, shortcut if shortcut is not None else block_input)
                shortcut, after_add = None, True
            elif kind == "fc":
                x = x.reshape(x.shape[0], -1) @ layer.params["w"]
                if layer.params["b"] is not None:
                    x += layer.params["b"]
        return x

    def compute(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors of aligned face chips.

        Parameters
        ----------
        chips : numpy.ndarray
            ``(N, 150, 150, 3)`` uint8 RGB chips as made by ``dlib.get_face_chip``.

        Returns
        -------
        numpy.ndarray
            ``(N, 128)`` float32 descriptors.
        """
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        size = self.chip_size
        if chips.ndim != 4 or chips.shape[1:] != (size, size, 3):
            raise ValueError(f"chips must have shape (N, {size}, {size}, 3), got {chips.shape}")
        if len(chips) == 0:
            return np.zeros((0, 128), np.float32)
        out = [self._forward(chips[i : i + self.batch_size]) for i in range(0, len(chips), self.batch_size)]
        return np.concatenate(out).astype(np.float32, copy=False)


def load_dlib_resnet(path: str | Path | None = None) -> DlibResNet:
    """Load the descriptor network (see :class:`DlibResNet`)."""
    return DlibResNet(path)
