"""Intensity presets: map a whole volume to [0, 1] once, the same way for every slice.

CT is windowed (level/width in Hounsfield units, as radiologists read it); MR has no absolute scale,
so it is clipped to percentiles of its non-zero voxels. Both are fitted per volume, never per
slice, so that a structure keeps its brightness from slice to slice during propagation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_medseg.errors import MedsegError

CT_AIR_HU = -500.0  # below this a volume's lowest values are air in Hounsfield units: it is a CT


@dataclass(frozen=True)
class IntensityPreset:
    """A window (``level``, ``width``) or, with ``percentiles``, a robust MR-style range."""

    name: str
    level: float | None = None
    width: float | None = None
    percentiles: tuple[float, float] | None = None

    def fit(self, volume: np.ndarray) -> IntensityRange:
        """The [low, high] range this preset gives for ``volume``."""
        if self.percentiles is None:
            assert self.level is not None and self.width is not None
            return IntensityRange(self.level - self.width / 2, self.level + self.width / 2)
        return _percentile_range(volume, self.percentiles)

    def is_relative(self, fitted: IntensityRange) -> bool:
        """Whether intensities fitted this way are relative (MR: a percentile range) rather than
        absolute (a CT window). A percentile range whose low end lies in air's Hounsfield units
        (``auto`` on a CT volume) is a CT's: its values still mean tissues."""
        return self.percentiles is not None and fitted.low > CT_AIR_HU

    @property
    def key(self) -> str:
        if self.percentiles is None:
            return f"{self.name}:L{self.level:g}W{self.width:g}"
        return f"{self.name}:p{self.percentiles[0]:g}-{self.percentiles[1]:g}"


@dataclass(frozen=True)
class IntensityRange:
    """A fitted range; ``apply`` maps values to float32 in [0, 1], NaN to 0, +-inf clipped."""

    low: float
    high: float

    def apply(self, data: np.ndarray) -> np.ndarray:
        out = self._mapped(data)
        return np.clip(out, 0.0, 1.0, out=out)

    def scale(self, data: np.ndarray, limit: float = 8.0) -> np.ndarray:
        """The same mapping without the clip to [0, 1] (values beyond the window kept, up to
        ``limit`` windows out): for rules that must tell apart what the window saturates."""
        out = self._mapped(data)
        return np.clip(out, -limit, 1.0 + limit, out=out)

    def _mapped(self, data: np.ndarray) -> np.ndarray:
        """A new float32 array: 0 and 1 at the range's ends, NaN to 0, +-inf to 1 / 0, not clipped."""
        span = self.high - self.low
        if not np.isfinite(span) or span <= 0:
            span = 1.0
        out = np.subtract(data, np.float32(self.low), dtype=np.float32)
        out *= np.float32(1.0 / span)
        np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
        return out


def _percentile_range(volume: np.ndarray, pct: tuple[float, float]) -> IntensityRange:
    v = np.asarray(volume)
    # Subsample large volumes: percentiles of a million voxels are as good as of all of them.
    flat = v.reshape(-1)
    if flat.size > 2_000_000:
        flat = flat[:: flat.size // 1_000_000]
    flat = flat[np.isfinite(flat)]
    nonzero = flat[flat != 0]
    sample = nonzero if nonzero.size > 0.01 * max(flat.size, 1) else flat
    if sample.size == 0:
        return IntensityRange(0.0, 1.0)
    low, high = np.percentile(sample.astype(np.float64), pct)
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    if high <= low:
        high = low + 1.0
    return IntensityRange(float(low), float(high))


PRESETS: dict[str, IntensityPreset] = {
    p.name: p
    for p in (
        IntensityPreset("ct-abdomen", level=40, width=400),
        IntensityPreset("ct-lung", level=-600, width=1500),
        IntensityPreset("ct-bone", level=400, width=1800),
        IntensityPreset("ct-brain", level=40, width=80),
        IntensityPreset("ct-mediastinum", level=50, width=350),
        IntensityPreset("mr", percentiles=(0.5, 99.5)),
        IntensityPreset("auto", percentiles=(0.5, 99.5)),
    )
}
DEFAULT_PRESET = "auto"


def get_preset(name: str) -> IntensityPreset:
    """Look up a preset by name, or parse ``window:LEVEL:WIDTH`` for a custom CT window."""
    if name in PRESETS:
        return PRESETS[name]
    if name.startswith("window:"):
        try:
            _, level, width = name.split(":")
            preset = IntensityPreset(name, level=float(level), width=float(width))
        except ValueError:
            preset = None
        if preset is not None and preset.width and preset.width > 0:
            return preset
    raise MedsegError(
        f"unknown intensity preset '{name}'; choose one of {', '.join(PRESETS)} or window:LEVEL:WIDTH"
    )
