import numpy as np
import pytest

from napari_medseg.core.orientation import AxialView, axial_view


def _affine(columns, spacing=(0.9, 0.9, 3.0)):
    """An affine whose array axis i runs along world axis columns[i][0] (0 x, 1 y, 2 z) with sign columns[i][1]."""
    affine = np.eye(4)
    affine[:3, :3] = 0.0
    for i, (world, sign) in enumerate(columns):
        affine[world, i] = sign * spacing[i]
    affine[:3, 3] = (-80.0, 60.0, -400.0)
    return affine


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        # RAS storage (the MNI template): anterior up is against napari's "down", right goes left
        ([(0, 1), (1, 1), (2, 1)], AxialView((2, 1, 0), "up", "left")),
        # LPS storage (DICOM order): napari's own directions already are the radiological ones
        ([(0, -1), (1, -1), (2, 1)], AxialView((2, 1, 0), "down", "right")),
        # the bundled sample: right, posterior, superior
        ([(0, 1), (1, -1), (2, 1)], AxialView((2, 1, 0), "down", "left")),
        # slices stored first (k, j, i), inferior-to-superior flipped
        ([(2, -1), (1, -1), (0, -1)], AxialView((0, 1, 2), "down", "right")),
        # axes permuted: array axis 0 runs anterior, 1 superior, 2 left
        ([(1, 1), (2, 1), (0, -1)], AxialView((1, 0, 2), "up", "right")),
    ],
)
def test_the_axial_view_slices_along_the_body_with_anterior_up_and_the_right_on_the_left(columns, expected):
    view = axial_view(_affine(columns))
    assert view == expected and view.slice_axis == expected.order[0]


def test_the_sample_affine_gives_its_axial_slices():
    from napari_medseg.core.sample import sample_affine

    assert axial_view(sample_affine()) == AxialView((2, 1, 0), "down", "left")


def test_an_oblique_affine_takes_the_view_of_its_nearest_axes():
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.8, 0.8, 2.5])
    assert axial_view(affine) == AxialView((2, 1, 0), "up", "left")


@pytest.mark.parametrize(
    "affine",
    [np.zeros((4, 4)), np.full((4, 4), np.nan), np.eye(3), np.diag([1.0, 1.0, 0.0, 1.0])],
)
def test_a_degenerate_affine_gives_no_view(affine):
    assert axial_view(affine) is None
