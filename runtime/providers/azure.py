"""Azure OpenAI: deployment URLs, the api-version query parameter and the api-key header."""

from __future__ import annotations

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.providers.openai import OpenAIAdapter

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIAdapter(OpenAIAdapter):
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        super().__init__(provider, client)
        self.api_version = provider.option("api_version") or provider.option("api-version") or DEFAULT_API_VERSION
        self.base_url = self.base_url.removesuffix("/openai")

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"api-key": api_key} if api_key else {}

    def deployment(self, model: str) -> str:
        """`deployments` entries map a model to its deployment (options `deployment.<model>`); default: the model."""
        for prefix in ("deployment.", "deployments.", "deployment:"):
            found = self.provider.option(prefix + model)
            if found:
                return found
        return self.provider.option("deployment") or model

    def url(self, path: str, model: str) -> str:
        return f"{self.base_url}/openai/deployments/{self.deployment(model)}/{path}"

    def params(self) -> dict[str, str] | None:
        return {"api-version": self.api_version}
