"""faststream helpers shared by the consumers."""

from __future__ import annotations

from typing import Any


async def undecoded(message: Any) -> None:
    """A faststream decoder that decodes nothing: our batch handlers read the records' bytes
    (``message.raw_message``) and parse them once, themselves. faststream's default decoder
    would ``json.loads`` every record first, and a pathological one (JSON nested 100,000
    deep) would make it raise before the handler could reject it."""
    return None
