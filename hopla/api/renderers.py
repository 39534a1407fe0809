"""DRF's JSON output, encoded by orjson.

DRF's JSONRenderer goes through the standard library's `json`: 0.36 ms of a 25-ticket list page's
6 ms of Python (`python -m bench.profile`). orjson writes the same bytes in a fraction of that, given
what DRF's encoder decides for the types orjson would format its own way:

- dates and times go through DRF's encoder (`OPT_PASSTHROUGH_DATETIME`): `Z` for UTC and
  milliseconds, where orjson writes `+00:00` and microseconds;
- whatever orjson does not know (Decimal, lazy translations, querysets, ...) goes through DRF's
  encoder too (`default`), never to a silent `null` (drf-orjson-renderer's `default` answers None for
  types it does not list, which is why that package is not used);
- dict keys that are not strings (DRF's error details of list items use the item's index) are
  written as strings, as `json` does (`OPT_NON_STR_KEYS`).

U+2028 and U+2029 are escaped, as DRF does for JavaScript's sake. The bytes are DRF's (the tests
compare them on real responses), but for floats, which orjson may spell differently (`1e16` for
`1e+16`; hopla's API has none) and NaN or infinities, which orjson writes `null` where DRF raised.

What orjson refuses (an integer beyond 64 bits, say) and a client asking for indented JSON
(`Accept: application/json; indent=2`) get DRF's own renderer.
"""

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_drf_default = JSONEncoder().default
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()


def as_json_types(data: Any) -> Any:
    """`data` as the API's JSON would read back: plain dicts, lists, strings and numbers."""
    return orjson.loads(OrjsonRenderer().render(data))


class OrjsonRenderer(JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            content = orjson.dumps(data, default=_drf_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATOR in content or _PARAGRAPH_SEPARATOR in content:
            content = content.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
        return content
