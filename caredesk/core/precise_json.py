"""The JSON format of backups: Django's own, but timestamps keep their microseconds (Django's
JSON encoder cuts them to milliseconds, so a restored row would differ from the original)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.serializers.json import Deserializer, DjangoJSONEncoder
from django.core.serializers.json import Serializer as JsonSerializer

__all__ = ["Deserializer", "Serializer"]


class PreciseJSONEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            text = o.isoformat()
            return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        if isinstance(o, datetime.time) and o.tzinfo is None:
            return o.isoformat()
        return super().default(o)


class Serializer(JsonSerializer):
    def _init_options(self) -> None:
        super()._init_options()
        self.json_kwargs["cls"] = PreciseJSONEncoder
