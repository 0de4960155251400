"""What the 3D service declares it can do."""

from transmute_common.converter import Capabilities, Conversion
from transmute_model3d.options import OPTION_SPECS

MODELS = ["stl", "obj", "ply", "off", "glb"]

CAPABILITIES = Capabilities(
    service="model3d",
    conversions=[
        Conversion(operation="convert", inputs=MODELS, outputs=MODELS),
        # Fewer triangles: to face_limit or by ratio (fast-simplification).
        Conversion(operation="decimate", inputs=MODELS, outputs=MODELS),
        # Merged vertices, no degenerate or duplicate faces, consistent winding, holes
        # filled; says whether the result is watertight and its volume.
        Conversion(operation="repair", inputs=MODELS, outputs=MODELS),
        # Counts, bounds, area, volume, watertightness as a JSON report.
        Conversion(operation="analyze", inputs=MODELS, outputs=["json"]),
    ],
    options=OPTION_SPECS,
)
