"""The REST API: OpenAPI at /api/openapi.json, docs at /api/docs, resources under /api/v1/.

Errors are always JSON: {"error": {"code": ..., "message": ...}}.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.db import DataError, connection
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from caredesk.accounts.api_auth import agent_auth
from caredesk.core.errors import DomainError

ERROR_STATUSES = {
    "400": "Malformed request (e.g. the body is not JSON)",
    "401": "No valid API token or session",
    "403": "Not allowed for your role or token scope",
    "404": "Not found, or outside your scope",
    "409": "Conflict (already exists, or changed by someone else)",
    "413": "Too large (attachment or body)",
    "422": "Validation failed",
    "429": "Rate limited",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


class BodyNotAnObject(ValueError):
    """A JSON body that is an array, string, number or null: every operation takes an object."""


class ObjectBodyParser(Parser):
    """Only a JSON object is a request body. Without this, `[null, null]` validated as an object
    with every field left at its default (ninja reads fields as attributes), and made a token."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise BodyNotAnObject(type(data).__name__)
        return data


class CaredeskAPI(NinjaAPI):
    """Documents the uniform JSON error answer on every operation."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}
                                }
                            },
                        },
                    )
        return schema


api = CaredeskAPI(
    title="caredesk API",
    version="1",
    description="Tickets, messages, customers and the rest of caredesk. Authenticate with `Authorization: Bearer <token>`.",
    auth=agent_auth,
    parser=ObjectBodyParser(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


class ErrorBody(Schema):
    code: str
    message: str


class ErrorOut(Schema):
    error: ErrorBody


def error_response(
    request: HttpRequest, status: int, code: str, message: str, **extra: object
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, **extra}}, status=status
    )


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = error_response(request, exc.status, exc.code, exc.message)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = []
    for item in exc.errors:
        loc = ".".join(str(p) for p in item.get("loc", []) if p not in ("body", "payload"))
        details.append(
            f"{loc}: {item.get('msg', 'invalid')}" if loc else item.get("msg", "invalid")
        )
    message = "; ".join(details) or "The request is not valid."
    return error_response(request, 422, "validation_failed", message, details=exc.errors)


@api.exception_handler(OverflowError)
def on_overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    return error_response(request, 422, "out_of_range", "A number in the request is out of range.")


@api.exception_handler(DataError)
def on_data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    # The database refused a value (too large, wrong encoding): the caller's input, not our fault.
    return error_response(
        request, 422, "out_of_range", "A value in the request is out of range for its field."
    )


@api.exception_handler(SuspiciousOperation)
def on_suspicious_operation(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    # Django would answer its HTML 400 page; API clients get the JSON error like every other.
    return error_response(request, 400, "bad_request", "The request could not be processed.")


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request,
        401,
        "unauthenticated",
        "Send a valid API token (Authorization: Bearer ...) or sign in.",
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        413: "too_large",
        429: "rate_limited",
    }
    message = str(exc)
    if exc.status_code == 400 and isinstance(exc.__cause__, BodyNotAnObject):
        return error_response(
            request, 400, "body_not_object", "The request body must be a JSON object ({...})."
        )
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        return error_response(request, 400, "malformed_json", "The request body is not valid JSON.")
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), message)


class HealthOut(Schema):
    status: str
    database: str
    queue: str
    channels: str


@api.get("/v1/health", auth=None, response={200: HealthOut, 503: HealthOut}, tags=["health"])
def health(request: HttpRequest) -> tuple[int, dict[str, str]]:
    """Liveness of the database, the job queue and the channel layer."""
    result = {"status": "ok", "database": "ok", "queue": "ok", "channels": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # report, never crash the health check
        result["database"] = f"error: {type(exc).__name__}"
    try:
        from huey.contrib.djhuey import HUEY

        HUEY.pending_count()
    except Exception as exc:
        result["queue"] = f"error: {type(exc).__name__}"
    try:
        from channels.layers import get_channel_layer

        if get_channel_layer() is None:
            result["channels"] = "not configured"
    except Exception as exc:
        result["channels"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for k, v in result.items() if k != "status")
    result["status"] = "ok" if healthy else "degraded"
    return (200 if healthy else 503), result


def _register_routers() -> None:
    from caredesk.accounts.api import router as accounts_router
    from caredesk.customers.api import organizations_router
    from caredesk.customers.api import router as customers_router
    from caredesk.tickets.api import attachments_router, catalog_router
    from caredesk.tickets.api import router as tickets_router

    api.add_router("/v1/tickets", tickets_router)
    api.add_router("/v1/attachments", attachments_router)
    api.add_router("/v1", catalog_router)
    api.add_router("/v1/customers", customers_router)
    api.add_router("/v1/organizations", organizations_router)
    api.add_router("/v1", accounts_router)

    from caredesk.compliance.api import router as compliance_router

    api.add_router("/v1", compliance_router)

    from caredesk.channels.email.api import router as email_router

    api.add_router("/v1/email", email_router)

    from caredesk.knowledge.api import router as kb_router
    from caredesk.knowledge.api import search_router

    api.add_router("/v1/kb", kb_router)
    api.add_router("/v1/search", search_router)

    from caredesk.routing.api import router as flow_router

    api.add_router("/v1", flow_router)


_register_routers()
