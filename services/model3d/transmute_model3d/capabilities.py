"""What the 3D service declares it can do."""

from typing import Any

from transmute_common.converter import Capabilities, Conversion
from transmute_common.handoff import Intake
from transmute_model3d.options import OPTION_SPECS, Model3dOptions

MODELS = ["stl", "obj", "ply", "off", "glb", "gltf", "3mf"]
# A zip package: one model (OBJ with its MTL and textures, glTF with its buffers and
# images, or any of MODELS) and the files it references.
INPUTS = [*MODELS, "zip"]
# Pictures image_to_3d reads: any the image service does, made grey PNG by it.
PICTURES = ["jpeg", "png", "webp", "avif", "gif", "tiff", "bmp", "heic", "svg"]
MAX_BATCH = 20

CAPABILITIES = Capabilities(
    service="model3d",
    conversions=[
        Conversion(operation="convert", inputs=INPUTS, outputs=MODELS),
        # Fewer triangles: to face_limit or by ratio (fast-simplification).
        Conversion(operation="decimate", inputs=INPUTS, outputs=MODELS),
        # Merged vertices, no degenerate or duplicate faces, consistent winding, holes
        # filled; says whether the result is watertight and its volume.
        Conversion(operation="repair", inputs=INPUTS, outputs=MODELS),
        # Counts, bounds, area, volume, watertightness as a JSON report.
        Conversion(operation="analyze", inputs=INPUTS, outputs=["json"]),
        # A shaded picture from a fixed camera, drawn on the CPU.
        Conversion(operation="thumbnail", inputs=INPUTS, outputs=["png"]),
        # A solid with the picture as its height field; a batch gives one model each.
        Conversion(operation="image_to_3d", inputs=PICTURES, outputs=MODELS, max_inputs=MAX_BATCH),
    ],
    options=OPTION_SPECS,
)


REMOTE_SIDE = 1024  # what a hosted image-to-3D model is sent, at most, a side


def picture_options(job_options: dict[str, Any]) -> dict[str, Any]:
    """What the image service is asked for: grey within the resolution a side for a
    height field; colour within REMOTE_SIDE for the hosted API."""
    opts = Model3dOptions.model_validate(job_options)
    if opts.backend == "remote":
        return {"width": REMOTE_SIDE, "height": REMOTE_SIDE, "fit": "contain"}
    return {"width": opts.resolution, "height": opts.resolution, "fit": "contain",
            "grayscale": True}  # fmt: skip


INTAKES = [
    Intake("image_to_3d", frozenset(PICTURES), via="png", service="image", options=picture_options)
]
