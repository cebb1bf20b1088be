"""Idempotent demo seed. Each domain adds a step; running `quanzi demo` twice changes nothing."""

from __future__ import annotations

from quanzi.demo.seed import seed

__all__ = ["seed"]
