"""Renditions benchmark: mediaserve's renditions against sorl-thumbnail, easy-thumbnails and
django-imagekit (and the raw Pillow and pyvips engines), on the same photos in the same run.

Run ``python -m bench.renditions --help`` from the repository root; see bench/README.md.
"""
