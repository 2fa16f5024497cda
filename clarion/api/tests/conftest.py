from __future__ import annotations

import json

import pytest

from clarion.api.models import ApiKey
from clarion.api.services import api_key_create


class ApiClient:
    """The Django test client speaking to the API with a token, as a script would."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def _call(self, method: str, path: str, data=None, **params):
        kwargs = {"HTTP_OSDI_API_TOKEN": self.token}
        if data is not None:
            kwargs["data"] = data if isinstance(data, str | bytes) else json.dumps(data)
            kwargs["content_type"] = "application/json"
        elif params:
            kwargs["data"] = params
        return getattr(self.client, method)(f"/api/v2/{path}", **kwargs)

    def get(self, path, **params):
        return self._call("get", path, **params)

    def post(self, path, data):
        return self._call("post", path, data)

    def put(self, path, data):
        return self._call("put", path, data)

    def delete(self, path):
        return self._call("delete", path)


def make_api(client, owner, **options) -> ApiClient:
    _key, token = api_key_create(owner=owner, actor=owner, **options)
    return ApiClient(client, token)


@pytest.fixture
def admin_api(client, admin):
    return make_api(client, admin)


@pytest.fixture
def north_api(client, organiser):
    return make_api(client, organiser)


@pytest.fixture
def read_api(client, admin):
    return make_api(client, admin, scope=ApiKey.Scope.READ)
