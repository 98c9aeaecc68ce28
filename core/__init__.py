"""Feedlens core: archive import, image processing and analysis. No UI code here."""

import os

# Keras reads its backend once, at first import: fix it before anything can.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
