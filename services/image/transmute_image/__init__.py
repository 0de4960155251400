"""Transmute image converter: libvips through pyvips, Pillow where libvips lacks a codec."""
