"""Validation of request bodies; no services needed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shop.schemas import OrderIn, ProductImport, ProductIn


def test_valid_order_is_normalised() -> None:
    order = OrderIn.model_validate({"customer": "  Ada  ", "items": [{"sku": "MUG-LOGO", "qty": 2}]})
    assert order.customer == "Ada"
    assert order.items[0].qty == 2


@pytest.mark.parametrize(
    "body",
    [
        {"customer": "", "items": [{"sku": "MUG-LOGO", "qty": 1}]},
        {"customer": "   ", "items": [{"sku": "MUG-LOGO", "qty": 1}]},
        {"customer": "x" * 201, "items": [{"sku": "MUG-LOGO", "qty": 1}]},
        {"customer": "Ada", "items": []},
        {"customer": "Ada"},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": 0}]},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": 1001}]},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": "2"}]},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": 1.5}]},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": True}]},
        {"customer": "Ada", "items": [{"sku": "mug logo", "qty": 1}]},
        {"customer": "Ada", "items": [{"sku": "-MUG", "qty": 1}]},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": 1, "price": 1}]},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": 1}], "status": "confirmed"},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": 1}] * 101},
    ],
)
def test_invalid_orders(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OrderIn.model_validate(body)


def test_duplicate_skus_are_rejected_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="appears more than once"):
        OrderIn.model_validate({"customer": "Ada", "items": [{"sku": "A", "qty": 1}, {"sku": "A", "qty": 2}]})


def test_products() -> None:
    assert ProductIn.model_validate({"name": " Mug ", "price_cents": 0}).name == "Mug"
    for bad in ({"name": "Mug", "price_cents": -1}, {"name": "", "price_cents": 1}, {"name": "Mug"}):
        with pytest.raises(ValidationError):
            ProductIn.model_validate(bad)
    with pytest.raises(ValidationError):
        ProductImport.model_validate({"sku": "no spaces", "name": "Mug", "price_cents": 1})
