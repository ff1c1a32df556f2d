import json

import pytest

from caredesk.accounts.services import create_token


class ApiClient:
    """The Django test client speaking JSON with a bearer token."""

    def __init__(self, client, token):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _send(self, method, path, data=None, **extra):
        kwargs = {**self.headers, **extra}
        if data is not None and not isinstance(data, str | bytes):
            data = json.dumps(data)
        if data is not None:
            kwargs["content_type"] = "application/json"
        return (
            getattr(self.client, method)(path, data=data, **kwargs)
            if data is not None
            else getattr(self.client, method)(path, **kwargs)
        )

    def get(self, path, **extra):
        return self._send("get", path, **extra)

    def post(self, path, data=None, **extra):
        return self._send("post", path, data if data is not None else {}, **extra)

    def patch(self, path, data=None, **extra):
        return self._send("patch", path, data, **extra)

    def delete(self, path, **extra):
        return self._send("delete", path, **extra)


@pytest.fixture
def api_as(client):
    def make(agent, scope="write"):
        return ApiClient(client, create_token(agent, scope=scope).token if agent else None)

    return make
