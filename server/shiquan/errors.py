"""The exceptions of Shiquan; each carries the HTTP status and error code it maps to."""

from __future__ import annotations


class ShiquanError(Exception):
    """Base class; an unexpected failure is a 500 whose body says only "internal error"."""

    status, code = 500, "internal_error"

    def __reduce__(self):
        # Errors cross from worker processes pickled: keep the message and the attributes (a BadInput's source and
        # line) without calling __init__ again, which would format the message a second time.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[ShiquanError], args: tuple, state: dict) -> ShiquanError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class BadQuery(ShiquanError):
    """The SPARQL text is malformed or is not a query."""

    status, code = 400, "bad_query"


class BadRequest(ShiquanError):
    """The request is missing a parameter or combines parameters that exclude each other."""

    status, code = 400, "bad_request"


class BadInput(ShiquanError):
    """An RDF file or payload cannot be read: unknown format, unparseable, unreadable.

    ``source`` names the file (or "request body"), ``line`` the line where the
    parser stopped when it says so.
    """

    status, code = 400, "bad_input"

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        where = source or ""
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.message, self.source, self.line = message, source, line


class Forbidden(ShiquanError):
    """The request asks for something this endpoint never does (update, a SERVICE off the allowlist)."""

    status, code = 403, "forbidden"


class NotFound(ShiquanError):
    """No resource with that IRI is described here."""

    status, code = 404, "not_found"


class Conflict(ShiquanError):
    """The request cannot be carried out in the server's present state (a reload already running, or a store
    that cannot be reloaded in place)."""

    status, code = 409, "conflict"


class NotAcceptable(ShiquanError):
    """No format we produce fits the request's Accept header."""

    status, code = 406, "not_acceptable"


class PayloadTooLarge(ShiquanError):
    """The request body is over the configured limit."""

    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ShiquanError):
    """The request body's content type is not one we read."""

    status, code = 415, "unsupported_media_type"


class QueryTimeout(ShiquanError):
    """A query ran past the configured time limit and was stopped."""

    status, code = 503, "query_timeout"


class EngineFault(ShiquanError):
    """The query engine crashed on the request (its worker died by a signal of its own, e.g. an upstream panic); the
    request is not run again, and the same request is refused at once for a while after."""

    status, code = 422, "engine_fault"


class MemoryLimit(ShiquanError):
    """A job grew past JOB_MEMORY_MB while it ran and its worker was stopped."""

    status, code = 503, "memory_limit"


class Unavailable(ShiquanError):
    """The server cannot run the request now: its store process is gone, or the worker was stopped from outside."""

    status, code = 503, "unavailable"


class ResultTooLarge(ShiquanError):
    """A query's result is over the configured maximum size."""

    status, code = 422, "result_too_large"


class RemoteServiceFailed(ShiquanError):
    """A SERVICE call to an allowlisted endpoint, or the remote store, failed (unreachable, error status, bad answer)."""

    status, code = 502, "service_failed"


class GatewayTimeout(ShiquanError):
    """A relayed SERVICE call ran over SERVICE_TIMEOUT_S."""

    status, code = 504, "service_timeout"


class InconsistentGraph(ShiquanError):
    """The OWL RL closure found a contradiction; the message lists owlrl's error triples."""

    status, code = 422, "inconsistent_graph"
