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


def is_channels_last(x: torch.Tensor) -> bool:
    """True for a 4D tensor laid out NHWC (channels last) and not also NCHW-contiguous."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def pixel_rows(x: torch.Tensor) -> torch.Tensor:
    """A batch-1 (1, C, H, W) tensor as an (H*W, C) matrix: a view when it is laid out channels last."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[2] * x.shape[3], x.shape[1])


def from_pixel_rows(y: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(H*W, C) -> (1, C, H, W) laid out channels last (a view)."""
    return y.view(1, h, w, y.shape[1]).permute(0, 3, 1, 2)


class Pointwise(nn.Conv2d):
    """A 1x1 convolution computed as a matrix product: several times faster than conv2d on CPU.

    Inference runs the network channels last (NHWC), where 3x3 convolutions, pooling and upsampling
    are two to four times faster on CPU than NCHW; a channels-last input takes the (H*W, C) @ (C, C')
    route and gives a channels-last output, an NCHW input the (C', C) @ (C, H*W) route.
    """

    def __init__(self, cin: int, cout: int, bias: bool = True) -> None:
        super().__init__(cin, cout, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        weight = self.weight.view(self.out_channels, c)
        if b == 1 and is_channels_last(x):
            return self._parts_rows([x], weight, None, h, w)
        flat = x.reshape(b, c, h * w)
        if b == 1 and self.bias is not None:
            y = torch.addmm(self.bias[:, None], weight, flat[0])[None]
        else:
            y = torch.matmul(weight, flat)
            if self.bias is not None:
                y = y + self.bias.view(1, -1, 1)
        return y.view(b, self.out_channels, h, w)

    def parts(self, tensors: list[torch.Tensor], base: torch.Tensor | None = None) -> torch.Tensor:
        """``self(torch.cat(tensors, 1)) (+ base)`` without building the concatenation (batch 1)."""
        b, _, h, w = tensors[0].shape
        if b != 1 or torch.is_grad_enabled():
            y = self(torch.cat(tensors, dim=1))
            return y if base is None else y + base
        weight = self.weight.view(self.out_channels, -1)
        if is_channels_last(tensors[0]):
            return self._parts_rows(tensors, weight, base, h, w)
        acc = base.reshape(self.out_channels, h * w) if base is not None else None
        if self.bias is not None:
            acc = self.bias[:, None].expand(self.out_channels, h * w) if acc is None else acc + self.bias[:, None]
        start = 0
        for t in tensors:
            c = t.shape[1]
            part = weight[:, start : start + c]
            flat = t.reshape(c, h * w)
            acc = torch.mm(part, flat) if acc is None else torch.addmm(acc, part, flat)
            start += c
        return acc.view(1, self.out_channels, h, w)

    def _parts_rows(self, tensors: list[torch.Tensor], weight: torch.Tensor, base: torch.Tensor | None,
                    h: int, w: int) -> torch.Tensor:
        """``parts`` for channels-last tensors: (H*W, C) @ (C, C') products, output channels last,
        accumulated in place (one (H*W, C') tensor written, not one per part)."""
        acc = None
        start = 0
        for t in tensors:
            c = t.shape[1]
            part = weight[:, start : start + c].t()
            rows = pixel_rows(t)
            if acc is not None:
                acc.addmm_(rows, part)
            elif base is not None:
                acc = torch.addmm(pixel_rows(base), rows, part)
                if self.bias is not None:
                    acc.add_(self.bias)
            elif self.bias is not None:
                acc = torch.addmm(self.bias[None, :], rows, part)
            else:
                acc = torch.mm(rows, part)
            start += c
        return from_pixel_rows(acc, h, w)
