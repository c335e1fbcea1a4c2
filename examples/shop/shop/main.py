"""ASGI entry point: ``uvicorn shop.main:app``."""

from shop.config import SettingsError
from shop.web import create_app

try:
    app = create_app()
except SettingsError as exc:
    raise SystemExit(f"shop: configuration error: {exc}") from None
