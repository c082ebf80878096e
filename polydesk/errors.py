"""The polydesk exception hierarchy, written down here once.

Every error carries a stable machine-readable ``code`` (what an HTTP response
or a ``--json`` summary shows) and a human message. Codes never change once
published; add new ones instead.

PolydeskError
├── ConfigError                 code ``invalid_config``
├── InputError                  bad input from a user: nothing was written
│   ├── UnsupportedTypeError    code ``unsupported_type``
│   ├── EmptyFileError          code ``empty_file``
│   ├── CorruptFileError        code ``corrupt_file``
│   ├── EncryptedFileError      code ``encrypted_file``
│   ├── FileTooLargeError       code ``file_too_large``
│   ├── TooManyFilesError       code ``too_many_files``
│   ├── UnsafeArchiveError      code ``unsafe_archive`` (a zip bomb, nested or oversized archive)
│   ├── InvalidRecordError      code ``invalid_record`` (FAQ row, transcript line)
│   ├── InvalidNameError        code ``invalid_name``: a file, folder or document name refused (empty, dots, controls)
│   ├── UnsupportedEncodingError code ``unsupported_media_type``: a JSON body that is not UTF-8
│   ├── BodyTooLargeError       code ``body_too_large``: a request body over the limit for its caller
│   └── UnsafeUrlError          code ``unsafe_url``: an outbound URL refused (scheme, credentials, a private address)
├── AuthenticationError         code ``unauthenticated``: no API key, or an unknown one
├── PermissionDeniedError       code ``forbidden``: the key's role may not do this
├── RateLimitedError            code ``rate_limited``: too many requests; ``retry_after_s`` says when to retry
│   └── AuthThrottledError      code ``auth_throttled``: too many failed authentications from this client
├── NotFoundError               code ``not_found``
├── ConflictError               code ``conflict``: the state does not allow it now (busy, not handed off)
├── StoreError                  code ``store_unavailable``: the index or Redis could not be read or written
│   └── StorageFullError        code ``storage_full``: the disk of the data folder is full (or under its reserve,
│                               ``storage_reserve_mb``): nothing was written; the message names the folder and
│                               the space left. HTTP 507, CLI exit 1 (``polydesk.diskspace``)
├── OverloadedError             code ``overloaded``: more answers asked for than the service can start within its
│                               queue budget; ``retry_after_s`` says when to retry
└── OutboundError               code ``outbound_failed``: a call to another service failed (unreachable, bad answer)
    ├── OutboundTimeoutError    code ``outbound_timeout``: it did not answer within its deadline
    └── ResponseTooLargeError   code ``response_too_large``: its answer was over the size limit
"""

from __future__ import annotations


class PolydeskError(Exception):
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ConfigError(PolydeskError):
    code = "invalid_config"


class InputError(PolydeskError):
    code = "invalid_input"


class UnsupportedTypeError(InputError):
    code = "unsupported_type"


class InvalidNameError(InputError):
    code = "invalid_name"


class EmptyFileError(InputError):
    code = "empty_file"


class CorruptFileError(InputError):
    code = "corrupt_file"


class EncryptedFileError(InputError):
    code = "encrypted_file"


class FileTooLargeError(InputError):
    code = "file_too_large"


class TooManyFilesError(InputError):
    code = "too_many_files"


class UnsafeArchiveError(InputError):
    code = "unsafe_archive"


class InvalidRecordError(InputError):
    code = "invalid_record"


class UnsupportedEncodingError(InputError):
    """JSON over HTTP is UTF-8 (RFC 8259): a UTF-16/32 or otherwise undecodable body, or another charset."""

    code = "unsupported_media_type"


class BodyTooLargeError(InputError):
    code = "body_too_large"


class UnsafeUrlError(InputError):
    code = "unsafe_url"


class AuthenticationError(PolydeskError):
    code = "unauthenticated"


class PermissionDeniedError(PolydeskError):
    code = "forbidden"


class RateLimitedError(PolydeskError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthThrottledError(RateLimitedError):
    code = "auth_throttled"


class NotFoundError(PolydeskError):
    code = "not_found"


class ConflictError(PolydeskError):
    code = "conflict"


class StoreError(PolydeskError):
    code = "store_unavailable"

    @classmethod
    def from_exception(cls, operation: str, exc: BaseException) -> StoreError:
        error = cls(f"knowledge store failed during {operation}: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error


class StorageFullError(StoreError):
    code = "storage_full"


class OverloadedError(PolydeskError):
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_s: int, queued_ms: float | None = None,
                 admission_ms: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.queued_ms = queued_ms  # how long the request waited for its turn (the ``Server-Timing`` header)
        # Of that, how long in the admission's queue; the rest went before it (the key's rate limit, the body's
        # validation). None: refused at the door, before any of those.
        self.admission_ms = admission_ms


class OutboundError(PolydeskError):
    code = "outbound_failed"


class OutboundTimeoutError(OutboundError):
    code = "outbound_timeout"


class ResponseTooLargeError(OutboundError):
    code = "response_too_large"
