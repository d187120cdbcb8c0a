"""Provider adapters, one module per wire format; which type uses which adapter is declared in ``registry``."""

from __future__ import annotations

from bifrostc.runtime.providers.registry import UnknownProviderType, adapter_class

__all__ = ["UnknownProviderType", "adapter_class"]
