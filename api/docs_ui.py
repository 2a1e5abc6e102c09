"""The API docs UI (Swagger UI at /schema and /schema/swagger), served without internet access.

Litestar's render plugin loads Swagger UI from a CDN by default; here its JavaScript and CSS come
from the `swagger-ui-bundle-v2` package (Swagger UI 5, which renders OpenAPI 3.1) and are served by
the API itself under /docs-assets, so the docs work on an offline machine too.
"""

from __future__ import annotations

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from swagger_ui_bundle import swagger_ui_path

ASSETS_PATH = "/docs-assets"


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon="<link rel='icon' href='data:,'>",  # Litestar's default icon is on a CDN
    )


def assets_router() -> ControllerRouterHandler:
    return create_static_files_router(path=ASSETS_PATH, directories=[str(swagger_ui_path)],
                                      include_in_schema=False, name="docs-assets")
