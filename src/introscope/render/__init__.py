"""Rendering primitives shared by every slice and by the report: number formats by kind,
escaped HTML fragments, table formatting and matplotlib figure helpers. Nothing here knows
which experiments exist."""
