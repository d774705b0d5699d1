"""The one exception family of the proxy.

Every error a client can see is a `ProxyError`: it carries its HTTP status and
a short public message, and exactly one middleware renders it. Third-party
errors (botocore, PIL) are translated into these where they happen, so nothing
secret (bucket names, credentials, stack traces) ever reaches a response.

The classes must stay picklable: render workers run in other processes and
raise them across the process boundary.
"""

from __future__ import annotations


class ProxyError(Exception):
    """Base class: an error with an HTTP status and a public message."""

    status: int = 500
    #: Seconds a shared cache may keep this error; 0 means `no-store`.
    cache_seconds: int = 0

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        if self.cache_seconds > 0:
            return {"Cache-Control": f"public, max-age={self.cache_seconds}"}
        return {"Cache-Control": "no-store"}


class BadRequest(ProxyError):
    status = 400
    cache_seconds = 60


class BadOption(BadRequest):
    """A URL parameter is unknown, malformed or out of range."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param
        self.problem = problem

    def __reduce__(self) -> tuple[type[BadOption], tuple[str, str]]:
        return (BadOption, (self.param, self.problem))


class Forbidden(ProxyError):
    status = 403


class NotFound(ProxyError):
    status = 404
    cache_seconds = 60

    def __init__(self, message: str = "not found") -> None:
        super().__init__(message)


class MethodNotAllowed(ProxyError):
    status = 405


class PayloadTooLarge(ProxyError):
    status = 413
    cache_seconds = 60


class UnsupportedMediaType(ProxyError):
    status = 415
    cache_seconds = 60


class Unprocessable(ProxyError):
    """The original exists but cannot be decoded (truncated, corrupt)."""

    status = 422
    cache_seconds = 60


class ServiceUnavailable(ProxyError):
    """A dependency is down, slow or throttling: try again shortly."""

    status = 503

    def __init__(self, message: str = "temporarily unavailable", retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[ServiceUnavailable], tuple[str, int]]:
        return (ServiceUnavailable, (self.message, self.retry_after))

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store", "Retry-After": str(self.retry_after)}
