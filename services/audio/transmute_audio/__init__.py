"""Transmute audio converter: FFmpeg behind the converter runtime."""
