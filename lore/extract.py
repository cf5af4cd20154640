"""Uploaded bytes -> document text, refusing what is not a document (docs/lore.md "Formats")."""

from __future__ import annotations

import io
import unicodedata

from core.errors import ApplicationError

KIND_BY_EXTENSION = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown"}
KIND_BY_EXTENSION[".pdf"] = "pdf"
# A run of this many combining marks on one character is "Zalgo" text, not a language.
MAX_COMBINING_RUN = 8
# More than this share of control or unassigned characters is not prose.
MAX_CONTROL_SHARE = 0.01


class DocumentTooLarge(ApplicationError):
    status_code = 413
    default_code = "document_too_large"


def kind_of(filename: str, data: bytes) -> str:
    if data[:5] == b"%PDF-":
        return "pdf"
    lowered = filename.lower()
    for extension, kind in KIND_BY_EXTENSION.items():
        if lowered.endswith(extension):
            return kind
    return "text"


def text_from_upload(*, filename: str, data: bytes, max_bytes: int) -> tuple[str, str]:
    """(kind, text) of an uploaded file, or a clear ApplicationError (400 / 413)."""
    if len(data) > max_bytes:
        raise DocumentTooLarge(f"The file is larger than the limit of {max_bytes} bytes.")
    if not data.strip():
        raise ApplicationError("The file is empty.", code="empty_document")
    kind = kind_of(filename, data)
    if kind == "pdf":
        return kind, _pdf_text(data)
    if b"\x00" in data:
        raise ApplicationError(
            "The file is binary, not text: upload plain text, Markdown or PDF.",
            code="binary_document",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ApplicationError(
            "The file is not UTF-8 text: upload plain text, Markdown or PDF.",
            code="binary_document",
        ) from error
    return kind, text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        raise ApplicationError(
            f"The PDF could not be read ({type(error).__name__}).", code="unreadable_pdf"
        ) from error
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text.strip():
        raise ApplicationError(
            "The PDF has no text layer (a scan?): nothing to index.", code="pdf_without_text"
        )
    return text


def clean_document_text(text: str, *, max_bytes: int) -> str:
    """NFC-normalised text, or an ApplicationError for empty, oversized or pathological text
    (NUL or other control characters, lone surrogates, runs of combining marks)."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise DocumentTooLarge(f"The text is larger than the limit of {max_bytes} bytes.")
    if not text.strip():
        raise ApplicationError("The document has no text.", code="empty_document")
    controls = 0
    combining_run = 0
    for character in text:
        category = unicodedata.category(character)
        if category == "Cs":
            raise ApplicationError(
                "The text contains a lone surrogate (invalid Unicode).", code="invalid_unicode"
            )
        if character == "\x00":
            raise ApplicationError("The text contains NUL characters.", code="invalid_unicode")
        if category in ("Cc", "Cn", "Co") and character not in "\n\r\t\f":
            controls += 1
        if category in ("Mn", "Me"):
            combining_run += 1
            if combining_run > MAX_COMBINING_RUN:
                raise ApplicationError(
                    f"The text stacks more than {MAX_COMBINING_RUN} combining marks on one "
                    "character (pathological Unicode).",
                    code="invalid_unicode",
                )
        else:
            combining_run = 0
    if controls > max(3, len(text) * MAX_CONTROL_SHARE):
        raise ApplicationError(
            "The text is mostly control or unassigned characters: not a document.",
            code="invalid_unicode",
        )
    return unicodedata.normalize("NFC", text)
