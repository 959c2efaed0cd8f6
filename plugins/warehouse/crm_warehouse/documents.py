"""Documents: files attached to a contact or a sale, stored once by content.

A file's content is stored under its SHA-256 in the documents folder
(``<documents_dir>/ab/cd/abcd…``), written to a temporary file and renamed
into place, so a half-written blob never has the final name. The same
content attached twice, to one record or many, is stored once; each
attachment is a row of its own (name, type, size, uploader). ``verify``
re-hashes every blob and reports missing and altered files.

A user attaches and reads documents (``warehouse.documents.create`` /
``.read``) only for contacts in their ``contacts.read`` scope, and attaches
to a sale only one they may read; ``verify`` is ``warehouse.admin``'s.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import mimetypes
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

from crm_core.errors import CRMError, NotFoundError, ValidationError
from crm_warehouse.checks import check_id, check_text

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_warehouse.contact_scope import ContactScope
    from crm_warehouse.models import DocumentRow
    from crm_warehouse.sales import SalesBook
    from crm_warehouse.settings import WarehouseSettings

__all__ = ["Document", "DocumentProblem", "DocumentStore", "blob_path", "document_of", "documents_root"]

CHUNK = 1 << 20
READ = "warehouse.documents.read"
CREATE = "warehouse.documents.create"
ADMIN = "warehouse.admin"


class DocumentError(CRMError):
    """A document cannot be read, is too large, or its stored file is damaged."""

    exit_code = 2


@attrs.frozen
class Document:
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    contact_id: int | None
    sale_id: int | None
    uploaded_by: str | None
    uploaded_at: dt.datetime
    description: str
    #: true when this content was already stored (by this or another attachment)
    deduplicated: bool = False

    def as_row(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class DocumentProblem:
    """A blob that ``verify`` found missing or altered, and the documents that use it."""

    sha256: str
    problem: str
    path: str
    documents: tuple[int, ...]

    def as_row(self) -> dict[str, Any]:
        return attrs.asdict(self)


def document_of(row: DocumentRow, deduplicated: bool = False) -> Document:
    return Document(
        id=row.id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        contact_id=row.contact_id,
        sale_id=row.sale_id,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
        description=row.description,
        deduplicated=deduplicated,
    )


def documents_root(crm: CRM) -> Path:
    """The folder the stored files live in (``plugins.warehouse.documents_dir``)."""
    return crm.config.resolve_path(crm.settings("warehouse").documents_dir)


def blob_path(root: Path, sha256: str) -> Path:
    """Where the file with this SHA-256 is stored under ``root``."""
    return root / sha256[:2] / sha256[2:4] / sha256


class DocumentStore:
    """``crm.plugin("warehouse").documents``: attach, open, list and verify documents."""

    def __init__(self, crm: CRM, sales: SalesBook, contacts: ContactScope) -> None:
        self.crm = crm
        self._sales = sales
        self._contacts = contacts

    @property
    def root(self) -> Path:
        return documents_root(self.crm)

    @property
    def max_bytes(self) -> int:
        settings: WarehouseSettings = self.crm.settings("warehouse")
        return settings.max_document_bytes

    def path_of(self, sha256: str) -> Path:
        """Where the stored file with this SHA-256 lives (for who may read documents)."""
        self.crm.authz.require(READ)
        return blob_path(self.root, sha256)

    # -- writing ---------------------------------------------------------------

    def _spool(self, source: BinaryIO, label: str) -> tuple[Path, str, int]:
        """Copy ``source`` to a temporary file in the store while hashing it; refuse it past the size limit."""
        limit = self.max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    try:
                        chunk = source.read(CHUNK)
                    except OSError as exc:
                        raise DocumentError(f"cannot read {label}: {exc.strerror or exc}") from None
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise DocumentError(
                            f"{label} is larger than the limit of {limit:,} bytes "
                            f"(plugins.warehouse.max_document_mb = {self.crm.settings('warehouse').max_document_mb:g}); "
                            "attach a smaller file or raise the limit"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, digest.hexdigest(), size

    def attach(
        self,
        source: str | os.PathLike[str] | BinaryIO,
        *,
        contact_id: int | None = None,
        sale_id: int | None = None,
        name: str | None = None,
        content_type: str | None = None,
        uploaded_by: str | None = None,
        description: str = "",
        channel: str = "staff",
    ) -> Document:
        """Attach a file (a path or an open binary file) to a contact, a sale or both.

        The same content attached again to the same record under the same
        name returns the existing document; under another name or to another
        record it makes a new document sharing the stored file.
        ``uploaded_by`` defaults to the acting user's name.
        """
        from crm_hookspecs.events import DocumentAttached
        from crm_warehouse.models import BlobRow, DocumentRow

        self.crm.authz.require(CREATE)
        if uploaded_by is None and self.crm.current_user is not None:
            uploaded_by = self.crm.current_user.name

        if contact_id is None and sale_id is None:
            raise ValidationError(
                "a document is attached to a contact or a sale: give contact_id or sale_id (--contact / --sale)"
            )
        contact = check_id(contact_id, "contact") if contact_id is not None else None
        sale = check_id(sale_id, "sales record") if sale_id is not None else None
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            label = str(path)
            if not path.exists():
                raise DocumentError(f"cannot read {label}: no such file")
            if not path.is_file():
                raise DocumentError(f"cannot read {label}: it is not a regular file")
            try:
                size_now = path.stat().st_size
                if size_now > self.max_bytes:
                    raise DocumentError(
                        f"{label} is {size_now:,} bytes, larger than the limit of {self.max_bytes:,} bytes "
                        f"(plugins.warehouse.max_document_mb); attach a smaller file or raise the limit"
                    )
                handle: BinaryIO = open(path, "rb")
            except PermissionError:
                raise DocumentError(f"cannot read {label}: permission denied") from None
            except OSError as exc:
                raise DocumentError(f"cannot read {label}: {exc.strerror or exc}") from None
            name = name or path.name
        else:
            handle = source
            label = name or getattr(source, "name", None) or "the document"
            if not name:
                raw = getattr(source, "name", None)
                name = Path(raw).name if isinstance(raw, str) else None
        name = check_text(name, "document name", 255, required=True)
        assert name is not None
        if content_type is None:
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        content_type = check_text(content_type, "content type", 120, required=True)
        try:
            tmp, sha, size = self._spool(handle, label)
        finally:
            if handle is not source:
                handle.close()
        final = blob_path(self.root, sha)
        try:
            with self.crm.transaction():
                if sale is not None:
                    sale_record = self._sales.get(sale)  # NotFoundError, PermissionDenied
                    if contact is None:
                        contact = sale_record.contact_id
                self._contacts.require(contact)
                if contact_id is not None and self.crm.has_plugin("contacts"):  # a sale's contact is known already
                    self.crm.plugin("contacts").card(contact)
                # the content was hashed on the way in: putting it in place also repairs
                # a stored file that went missing or was altered since
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                existing = (
                    DocumentRow.select()
                    .where(
                        (DocumentRow.blob == sha)
                        & (DocumentRow.name == name)
                        & (DocumentRow.contact_id.is_null() if contact is None else DocumentRow.contact_id == contact)
                        & (DocumentRow.sale.is_null() if sale is None else DocumentRow.sale == sale)
                    )
                    .first()
                )
                if existing is not None:
                    return document_of(existing, deduplicated=True)
                now = self.crm.clock.now()
                blob_known = BlobRow.get_or_none(BlobRow.sha256 == sha) is not None
                if not blob_known:
                    BlobRow.insert(sha256=sha, size=size, stored_at=now).on_conflict_ignore().execute()
                row = DocumentRow.create(
                    blob=sha,
                    name=name,
                    content_type=content_type,
                    size=size,
                    contact_id=contact,
                    sale=sale,
                    uploaded_by=check_text(uploaded_by, "uploader", 100),
                    uploaded_at=now,
                    description=check_text(description, "description", 500) or "",
                )
                self.crm.emit(
                    DocumentAttached(
                        document_id=row.id,
                        contact_id=contact,
                        name=name,
                        content_type=content_type,
                        size=size,
                        sha256=sha,
                        sale_id=sale,
                        actor=row.uploaded_by,
                        channel=channel,
                    )  # fmt: skip
                )
                return document_of(row, deduplicated=blob_known)
        finally:
            tmp.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------

    def get(self, document_id: int) -> Document:
        """One document's details (not its content: :meth:`open`, :meth:`read_bytes`)."""
        from crm_warehouse.models import DocumentRow

        self.crm.authz.require(READ)
        with self.crm.activate():
            row = DocumentRow.get_or_none(DocumentRow.id == check_id(document_id, "document"))
            if row is None:
                raise NotFoundError(f"document {document_id} does not exist; 'crm warehouse documents' lists them")
            self._contacts.require(row.contact_id)
            return document_of(row)

    def open(self, document_id: int) -> BinaryIO:
        """The stored file, opened for reading (:meth:`read_bytes` also checks its hash)."""
        doc = self.get(document_id)
        path = blob_path(self.root, doc.sha256)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise DocumentError(
                f"the file of document {doc.id} ({doc.name}) is missing from {path}; run 'crm warehouse verify'"
            ) from None

    def verified(self, document_id: int) -> BinaryIO:
        """The stored file, opened for reading once its content is checked against its SHA-256.

        The file is read twice (hashed in chunks, then by the caller), never
        held in memory whole; a file missing or altered on disk is a
        ``DocumentError`` naming the document and ``crm warehouse verify``.
        """
        doc = self.get(document_id)
        path = blob_path(self.root, doc.sha256)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise DocumentError(
                f"the file of document {doc.id} ({doc.name}) is missing from {path}; run 'crm warehouse verify'"
            ) from None
        digest = hashlib.sha256()
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
        if digest.hexdigest() != doc.sha256:
            handle.close()
            raise DocumentError(
                f"the file of document {doc.id} ({doc.name}) was altered on disk; run 'crm warehouse verify'"
            )
        handle.seek(0)
        return handle

    def read_bytes(self, document_id: int) -> bytes:
        """The whole content, refused if it no longer matches its SHA-256."""
        doc = self.get(document_id)
        with self.open(document_id) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            raise DocumentError(
                f"the file of document {doc.id} ({doc.name}) was altered on disk; run 'crm warehouse verify'"
            )
        return data

    def list(
        self, *, contact_id: int | None = None, sale_id: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[Document]:
        """Documents, newest first (attached to contacts in the user's scope); ``offset`` skips that many."""
        from crm_warehouse.models import DocumentRow as D

        self.crm.authz.require(READ)
        if not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to 100000")
        query = (
            self._contacts.restrict(D.select(), D.contact_id)
            .order_by(D.uploaded_at.desc(), D.id.desc())
            .limit(limit)
            .offset(max(0, int(offset)))
        )
        if contact_id is not None:
            query = query.where(D.contact_id == check_id(contact_id, "contact"))
        if sale_id is not None:
            query = query.where(D.sale == check_id(sale_id, "sales record"))
        with self.crm.activate():
            return [document_of(row) for row in query]

    # -- checking --------------------------------------------------------------

    def _blobs(self) -> Iterator[tuple[str, int]]:
        from crm_warehouse.models import BlobRow

        last = ""
        while True:
            page = list(
                BlobRow.select(BlobRow.sha256, BlobRow.size)
                .where(BlobRow.sha256 > last)
                .order_by(BlobRow.sha256)
                .limit(1000)
                .tuples()
                .iterator()
            )
            if not page:
                return
            yield from page
            last = page[-1][0]

    def verify(self) -> tuple[int, builtins.list[DocumentProblem]]:
        """Re-hash every stored file; return (files checked, problems found)."""
        from crm_core.storage import batched
        from crm_warehouse.models import DocumentRow

        self.crm.authz.require(ADMIN)

        checked = 0
        problems: list[tuple[str, str, Path]] = []
        with self.crm.activate():
            for sha, _size in self._blobs():
                checked += 1
                path = blob_path(self.root, sha)
                try:
                    digest = hashlib.sha256()
                    with open(path, "rb") as fh:
                        for chunk in iter(lambda: fh.read(CHUNK), b""):
                            digest.update(chunk)
                except FileNotFoundError:
                    problems.append((sha, "missing", path))
                    continue
                except OSError as exc:
                    problems.append((sha, f"unreadable: {exc.strerror or exc}", path))
                    continue
                if digest.hexdigest() != sha:
                    problems.append((sha, "altered (content no longer matches its SHA-256)", path))
            users: dict[str, list[int]] = {}
            for shas in batched([sha for sha, _, _ in problems], 500):
                query = DocumentRow.select(DocumentRow.blob, DocumentRow.id).where(DocumentRow.blob.in_(shas))
                for sha, doc_id in query.tuples().iterator():
                    users.setdefault(sha, []).append(doc_id)
        return checked, [
            DocumentProblem(sha, what, str(path), tuple(sorted(users.get(sha, ())))) for sha, what, path in problems
        ]
