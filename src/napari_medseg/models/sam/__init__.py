"""The SAM family (SAM ViT-B/L/H, MedSAM, MobileSAM, LiteMedSAM) in torch alone, for the user's own checkpoints.

The modules mirror segment-anything's ``modeling/`` so that the official state-dict key names load
unchanged; :mod:`.loader` is the entry point the model registry calls.
"""
