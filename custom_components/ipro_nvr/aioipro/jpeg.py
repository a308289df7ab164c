"""Live JPEG parts: information chunks in front of the real JPEG.

A part is ``FFD8 FFFF`` + u16 length + recorder TLVs, optionally again ``FFD8 FFFF`` +
length + camera TLVs, then the real JPEG from its own ``FFD8``. The length follows the
JPEG segment convention (it counts its own two bytes, not the marker). Two other
readings are accepted when the data shows them unambiguously: a length of the TLVs alone,
and a length counting the four marker bytes too; the chunk must end where the next
``FFD8`` starts and its TLVs must parse. A part that is a plain JPEG has no information.

The spec's playback table writes the marker ``0xFFFFE``; ``FFD8 FFFE`` is accepted too.
``FFFE`` is also the JPEG comment marker, so such a chunk counts as information only
when it has the shape above; otherwise it is the start of the real JPEG.
"""

from __future__ import annotations

from .errors import IproProtocolError
from .models import JpegFrame, RecorderInfo
from .tlv import parse_tlvs

CHUNK_MARKER = b"\xff\xd8\xff\xff"
COMMENT_CHUNK_MARKER = b"\xff\xd8\xff\xfe"
CHUNK_MARKERS = (CHUNK_MARKER, COMMENT_CHUNK_MARKER)
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


def _info_chunk(body: bytes, pos: int) -> tuple[RecorderInfo, int] | None:
    """Read an information chunk at ``pos``; ``None`` if a JPEG comment starts there."""
    if not body.startswith(CHUNK_MARKERS, pos):
        return None
    try:
        return read_info_chunk(body, pos)
    except IproProtocolError:
        if body.startswith(COMMENT_CHUNK_MARKER, pos):
            return None
        raise


def parse_live_jpeg(body: bytes) -> JpegFrame:
    """Return the clean JPEG of a live part and the recorder/camera information before it."""
    if not body.startswith(SOI):
        raise IproProtocolError("The NVR sent a live image that is not a JPEG.")
    recorder_chunk = _info_chunk(body, 0)
    if recorder_chunk is None:
        recorder, camera, pos = RecorderInfo(), None, 0
    else:
        recorder, pos = recorder_chunk
        camera_chunk = _info_chunk(body, pos)
        camera = None
        if camera_chunk is not None:
            camera, pos = camera_chunk
    jpeg = body[pos:]
    if len(jpeg) < 4 or jpeg.startswith(CHUNK_MARKER):
        raise IproProtocolError("The NVR sent a live image part without a JPEG.")
    return JpegFrame(jpeg=jpeg, recorder=recorder, camera=camera)
