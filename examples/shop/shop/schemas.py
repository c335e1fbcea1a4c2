"""Request bodies, validated by pydantic (FastAPI answers 422 when they do not validate)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]


class OrderItemIn(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    qty: Annotated[int, Field(strict=True, ge=1, le=1000)]


class OrderIn(BaseModel):
    """Body of ``POST /api/orders``."""

    model_config = ConfigDict(extra="forbid")

    customer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=100)]

    @field_validator("items")
    @classmethod
    def _distinct_skus(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        seen: set[str] = set()
        for item in items:
            if item.sku in seen:
                raise ValueError(f"sku {item.sku} appears more than once; add up the quantities")
            seen.add(item.sku)
        return items


class ProductIn(BaseModel):
    """Body of ``PUT /api/catalog/{sku}`` and one row of an import."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    price_cents: Annotated[int, Field(strict=True, ge=0, le=100_000_000)]


class ProductImport(ProductIn):
    """One row given to the ``import_products`` task."""

    sku: Sku
