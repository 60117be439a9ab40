"""The OpenAPI file served by the service documents every API route it has."""

from __future__ import annotations

import yaml

from tests.conftest import Service


async def test_the_served_spec_lists_every_api_route(service: Service) -> None:
    async with service.http.get(service.base_url + "/api/v1/openapi.yaml") as response:
        assert response.status == 200, "public: no token needed"
        spec = yaml.safe_load(await response.text())

    documented = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    served = {
        (route.method, route.resource.canonical)
        for route in service.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    pages = {"/", "/cgu"}
    assert {route for route in served if route[1] not in pages} == documented
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_error_codes_in_the_spec_are_the_services(service: Service) -> None:
    from bot import errors

    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError)
    }
    async with service.http.get(service.base_url + "/api/v1/openapi.yaml") as response:
        spec = yaml.safe_load(await response.text())
    assert set(spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"]) >= codes - {
        "bad_request"
    }
