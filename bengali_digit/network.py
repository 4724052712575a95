"""The networks. Input: (B, 1, 28, 28) float ink intensity in [0, 1] on background 0, as made by
`bengali_digit.preprocess`. Output: (B, 10) logits, digit 0-9 (০-৯), or (B, 11) for a network trained
with an extra "not a digit" class (`classes=11`; `bengali_digit.verdict` reads either)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DigitNet(nn.Module):
    """Three stages of two 3×3 conv layers with batch norm, global average pooling, one linear layer.

    Global pooling instead of a wide flatten keeps it small (about 288 k parameters at width 32) and
    makes it less sensitive to where strokes sit in the frame.
    """

    def __init__(self, width: int = 32, dropout: float = 0.3, classes: int = 10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *conv_bn(1, w), *conv_bn(w, w), nn.MaxPool2d(2),  # (B, w, 14, 14)
            *conv_bn(w, 2 * w), *conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, 7, 7)
            *conv_bn(2 * w, 4 * w), *conv_bn(4 * w, 4 * w),  # (B, 4w, 7, 7)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 4w)
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class OriginalNet(nn.Module):
    """The original project's network (7 conv layers with batch norm, max pooling and dropout 0.25,
    then two linear layers with dropout 0.4), adapted from 180×180 to 28×28 input. Kept as the
    baseline that DigitNet is measured against."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(1, 32), *conv_bn(32, 32), nn.MaxPool2d(2), nn.Dropout(0.25),  # 14×14
            *conv_bn(32, 64), *conv_bn(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),  # 7×7
            *conv_bn(64, 128), *conv_bn(128, 128), *conv_bn(128, 128), nn.MaxPool2d(2),  # 3×3
            nn.Dropout(0.25), nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(128 * 3 * 3, 256), nn.ReLU(inplace=True), nn.Dropout(0.4), nn.Linear(256, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


ARCHITECTURES: dict[str, type[nn.Module]] = {"digitnet": DigitNet, "original": OriginalNet}


def build(arch: str = "digitnet", **kwargs) -> nn.Module:
    return ARCHITECTURES[arch](**kwargs)


def load(path, map_location: str = "cpu") -> nn.Module:
    """Rebuild the network a checkpoint was trained as, with its weights, ready to serve: eval
    mode, batch norm folded into the convolutions, channels_last."""
    return load_with_meta(path, map_location)[0]


def load_with_meta(path, map_location: str = "cpu") -> tuple[nn.Module, dict]:
    """`load`, and the checkpoint's `meta`: what travels with the weights (the calibration among it)."""
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    model = build(ckpt["arch"], **ckpt.get("arch_args", {}))
    model.load_state_dict(ckpt["state_dict"])
    # channels_last weights make oneDNN pick its faster convolutions: about half the CPU time at
    # batch 1 to 8, the sizes served (measured with bench/model_latency.py)
    return fold_batch_norm(model.eval()).to(memory_format=torch.channels_last), ckpt.get("meta", {})


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """Each Conv2d followed by BatchNorm2d in a Sequential becomes one Conv2d with the norm's scale
    and shift in its weights and bias: the same function in eval mode (to float rounding), with a
    third fewer ops per forward, which is about 5-30 % of the time at batch 1 (bench/model_latency.py).
    For inference only: the folded network no longer trains as it did."""
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        i = 0
        while i < len(seq) - 1:
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
                del seq[i + 1]
            i += 1
    return model


def checkpoint(model: nn.Module, arch: str, arch_args: dict, meta: dict) -> dict:
    """What `load` reads: the architecture and its arguments travel with the weights."""
    state = {k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
             for k, v in model.state_dict().items()}
    return {"arch": arch, "arch_args": arch_args, "state_dict": state, "meta": meta}
