"""Uploads stop at the limit, before storage: the first upload handler counts the bytes of
each file and ends the request once one passes ``AILAB_UPLOAD_MAX_BYTES``. The handlers after
it (memory, then a temporary file) never see the chunk that crossed the limit, and the
temporary files are closed (deleted) before the request is refused with 413."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from ailab.common.errors import DomainError


class UploadTooLarge(DomainError, SuspiciousOperation):
    """413. Also a SuspiciousOperation, so that where it surfaces outside a view (the CSRF
    check reads the form first) Django answers 4xx, which UploadLimitMiddleware makes 413."""

    code = "too_large"
    status = 413


class LimitedUploadHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = int(settings.AILAB_UPLOAD_MAX_BYTES)
        self.received = 0
        self.refused_field: str | None = None

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, *args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.refused_field = self.field_name
            if self.request is not None:
                self.request._ailab_upload_refused = self.limit  # type: ignore[attr-defined]
            # connection_reset: read no more of the body; the rest is never stored.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def upload_complete(self) -> None:
        if self.refused_field is not None:
            limit_mib = self.limit / (1024 * 1024)
            raise UploadTooLarge(
                f"at most {limit_mib:g} MiB ({self.limit} bytes); the upload was stopped there",
                field=self.refused_field,
            )
