"""Writes the avatar fixtures of tests/avatars.rs with Pillow (pip install pillow):
a real 1x1 JPEG, and a real PNG one pixel wider than Sesame accepts.

    python3 scripts/make_avatar_fixtures.py
"""
from pathlib import Path

from PIL import Image

out = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "avatars"
out.mkdir(parents=True, exist_ok=True)
Image.new("RGB", (1, 1), (200, 30, 30)).save(out / "pixel.jpg", quality=90)
# 4097 pixels wide: past the 4096 Sesame allows, yet only a few bytes.
Image.new("L", (4097, 1), 0).save(out / "wide.png", optimize=True)
