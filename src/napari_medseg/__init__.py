"""napari-medseg."""
