"""Small building blocks shared by the encoder and the decoder."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Conv + BatchNorm + ReLU; the BatchNorm is folded into the conv for inference."""
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every Conv2d followed by BatchNorm2d (in a Sequential) into one conv, in place."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for child in module.modules():
        if not isinstance(child, nn.Sequential):
            continue
        for i in range(len(child) - 1):
            conv, bn = child[i], child[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                child[i] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                child[i + 1] = nn.Identity()
    return module


def upsample_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)


class Pointwise(nn.Conv2d):
    """A 1x1 convolution computed as a matrix product: several times faster than conv2d on CPU."""

    def __init__(self, cin: int, cout: int, bias: bool = True) -> None:
        super().__init__(cin, cout, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        weight = self.weight.view(self.out_channels, c)
        flat = x.reshape(b, c, h * w)
        if b == 1 and self.bias is not None:
            y = torch.addmm(self.bias[:, None], weight, flat[0])[None]
        else:
            y = torch.matmul(weight, flat)
            if self.bias is not None:
                y = y + self.bias.view(1, -1, 1)
        return y.view(b, self.out_channels, h, w)
