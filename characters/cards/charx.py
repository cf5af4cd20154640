"""CHARX: a zip holding ``card.json`` (a V3 card) and its assets under ``assets/``.

Read defensively: member names with ``..``, an absolute path or a drive letter are refused;
the sum of the uncompressed sizes the zip declares is checked before anything is inflated,
and each member is inflated with a cap, so a zip bomb stops at the limit instead of filling
memory.
"""

import io
import zipfile

from .errors import CardError, CardTooLarge

MAX_MEMBERS = 1000
MAX_UNCOMPRESSED_BYTES = 32 * 1024 * 1024
AVATAR_TYPES = ("icon",)


def is_zip(data: bytes) -> bool:
    return data.startswith(b"PK\x03\x04")


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    with archive.open(info) as member:
        content = member.read(budget + 1)
    if len(content) > budget:
        raise CardTooLarge(
            f"The CHARX inflates past {MAX_UNCOMPRESSED_BYTES} bytes (a zip bomb?).",
            code="zip_too_large",
        )
    return content


def read_charx(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """card.json's bytes and the members the card's assets may name (path -> bytes)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise CardError(f"Not a readable CHARX (zip) file: {error}.", code="invalid_zip") from None
    if len(infos) > MAX_MEMBERS:
        raise CardError(f"The CHARX has more than {MAX_MEMBERS} files.", code="zip_too_many_files")
    for info in infos:
        if _unsafe(info.filename):
            raise CardError(
                f"The CHARX holds an unsafe path {info.filename!r} ('..' or absolute).",
                code="unsafe_path",
            )
    declared = sum(info.file_size for info in infos)
    if declared > MAX_UNCOMPRESSED_BYTES:
        raise CardTooLarge(
            f"The CHARX would inflate to {declared} bytes; the limit is {MAX_UNCOMPRESSED_BYTES}.",
            code="zip_too_large",
        )
    names = {info.filename: info for info in infos if not info.is_dir()}
    if "card.json" not in names:
        raise CardError("The CHARX has no card.json at its root.", code="charx_no_card")
    budget = MAX_UNCOMPRESSED_BYTES
    members: dict[str, bytes] = {}
    try:
        for name, info in names.items():
            content = _read_member(archive, info, budget)
            budget -= len(content)
            members[name] = content
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise CardError(f"The CHARX is damaged: {error}.", code="invalid_zip") from None
    except RuntimeError as error:  # encrypted members
        raise CardError(f"The CHARX cannot be read: {error}.", code="invalid_zip") from None
    return members.pop("card.json"), members


def avatar_from_assets(assets: object, members: dict[str, bytes]) -> bytes | None:
    """The main icon the V3 ``assets`` list names as ``embeded://path`` (sic, the spec's
    spelling; ``embedded://`` accepted too), else the first icon in the zip."""
    if isinstance(assets, list):
        icons = [a for a in assets if isinstance(a, dict) and a.get("type") in AVATAR_TYPES]
        icons.sort(key=lambda a: a.get("name") != "main")
        for asset in icons:
            uri = asset.get("uri")
            if isinstance(uri, str):
                for prefix in ("embeded://", "embedded://"):
                    if uri.startswith(prefix) and uri[len(prefix) :] in members:
                        return members[uri[len(prefix) :]]
    for name in sorted(members):
        if name.startswith("assets/icon/"):
            return members[name]
    return None
