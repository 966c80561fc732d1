"""Fixtures for the SAM-family tests: a tiny random-weight SAM checkpoint written to disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sam_helpers import tiny_sam_state


@pytest.fixture(scope="session")
def tiny_sam_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sam") / "tiny_sam.pth"
    torch.save(tiny_sam_state(), path)
    return path
