"""Live JPEG parts: information chunks in front of the real JPEG.

A part is ``FFD8 FFFF`` + u16 length + recorder TLVs, optionally again ``FFD8 FFFF`` +
length + camera TLVs, then the real JPEG from its own ``FFD8``. The length follows the
JPEG segment convention (it counts its own two bytes, not the marker). Two other
readings are accepted when the data shows them unambiguously: a length of the TLVs alone,
and a length counting the four marker bytes too; the chunk must end where the next
``FFD8`` starts and its TLVs must parse. A part that is a plain JPEG has no information.
"""

from __future__ import annotations

from .errors import IproProtocolError
from .models import JpegFrame, RecorderInfo
from .tlv import parse_tlvs

CHUNK_MARKER = b"\xff\xd8\xff\xff"
SOI = b"\xff\xd8"


def read_info_chunk(body: bytes, pos: int) -> tuple[RecorderInfo, int]:
    """Parse the ``FFD8 FFFF`` + u16 length chunk at ``pos``; return its TLVs and its end."""
    if len(body) < pos + 6:
        raise IproProtocolError("The NVR sent a cut information chunk.")
    length = int.from_bytes(body[pos + 4 : pos + 6])
    # Segment convention first, then "TLVs only", then "marker counted too".
    for end in (pos + 4 + length, pos + 6 + length, pos + length):
        if end < pos + 6 or body[end : end + 2] != SOI:
            continue
        try:
            return parse_tlvs(body[pos + 6 : end]), end
        except IproProtocolError:
            continue
    raise IproProtocolError(
        f"The NVR sent an information chunk whose length ({length}) does not fit its data."
    )


def parse_live_jpeg(body: bytes) -> JpegFrame:
    """Return the clean JPEG of a live part and the recorder/camera information before it."""
    if body.startswith(CHUNK_MARKER):
        recorder, pos = read_info_chunk(body, 0)
        camera: RecorderInfo | None = None
        if body.startswith(CHUNK_MARKER, pos):
            camera, pos = read_info_chunk(body, pos)
        jpeg = body[pos:]
    elif body.startswith(SOI):
        recorder, camera, jpeg = RecorderInfo(), None, body
    else:
        raise IproProtocolError("The NVR sent a live image that is not a JPEG.")
    if len(jpeg) < 4 or jpeg.startswith(CHUNK_MARKER):
        raise IproProtocolError("The NVR sent a live image part without a JPEG.")
    return JpegFrame(jpeg=jpeg, recorder=recorder, camera=camera)
