"""Backups: the whole database (as portable JSON) and every uploaded file, in one .tar.gz.

Portable on purpose: a backup taken on SQLite restores on PostgreSQL and the other way round.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from caredesk.core.errors import ValidationFailed

EXCLUDED = ["contenttypes", "auth.permission", "sessions", "admin.logentry"]
FORMAT_VERSION = 1


def _counts() -> dict[str, int]:
    counts = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label in ("contenttypes", "sessions") or label in (
            "auth.permission",
            "admin.logentry",
        ):
            continue
        if not model._meta.managed or model._meta.proxy:
            continue
        counts[label] = model._default_manager.count()
    return counts


def create_backup(output: Path) -> dict[str, Any]:
    """Write a backup archive; returns its manifest."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "database.json"
        call_command(
            "dumpdata",
            *[f"--exclude={e}" for e in EXCLUDED],
            "--natural-foreign",
            "--indent=0",
            "--format=precisejson",
            f"--output={dump}",
            verbosity=0,
        )
        media_root = Path(settings.MEDIA_ROOT)
        files = (
            sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []
        )
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "database_vendor": connection.vendor,
            "counts": _counts(),
            "files": {
                str(p.relative_to(media_root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in files
            },
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(output, "w:gz") as archive:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, arcname="database.json")
            for path in files:
                archive.add(path, arcname=f"media/{path.relative_to(media_root)}")
    return manifest


def restore_backup(source: Path) -> dict[str, Any]:
    """Replace this instance's data with a backup's; verifies counts and file checksums."""
    from caredesk.compliance import signals

    if not source.exists():
        raise ValidationFailed(f"{source} does not exist.")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(source, "r:gz") as archive:
        names = archive.getnames()
        if "manifest.json" not in names or "database.json" not in names:
            raise ValidationFailed(f"{source} is not a caredesk backup.")
        archive.extractall(tmp, filter="data")
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValidationFailed("This backup was made by an incompatible caredesk version.")
        call_command("migrate", verbosity=0, interactive=False)
        call_command("flush", verbosity=0, interactive=False)
        signals.PAUSED["value"] = True
        try:
            call_command("loaddata", str(Path(tmp) / "database.json"), verbosity=0)
        finally:
            signals.PAUSED["value"] = False
        _reset_sequences()
        media_root = Path(settings.MEDIA_ROOT)
        extracted = Path(tmp) / "media"
        for relative, digest in manifest["files"].items():
            target = media_root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            data = (extracted / relative).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise ValidationFailed(f"Checksum mismatch for {relative}: the backup is damaged.")
            target.write_bytes(data)
    counts = _counts()
    mismatched = {
        k: (v, counts.get(k)) for k, v in manifest["counts"].items() if counts.get(k) != v
    }
    if mismatched:
        raise ValidationFailed(f"Restored row counts differ from the backup: {mismatched}")
    return manifest


def _reset_sequences() -> None:
    """PostgreSQL sequences must move past the loaded ids."""
    if connection.vendor != "postgresql":
        return
    from django.core.management.color import no_style

    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
