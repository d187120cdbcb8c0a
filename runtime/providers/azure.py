"""Azure OpenAI: deployment URLs, the api-version query parameter and the api-key header."""

from __future__ import annotations

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.providers.openai import OpenAIAdapter


class AzureOpenAIAdapter(OpenAIAdapter):
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        super().__init__(provider, client)
        self.azure_options = provider.options_as(config.AzureOptions)
        self.base_url = self.base_url.removesuffix("/openai")

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"api-key": api_key} if api_key else {}

    def deployment(self, model: str) -> str:
        """The `deployments` option maps a model to its deployment; default: the model id itself."""
        return self.azure_options.deployments.get(model, model)

    def url(self, path: str, model: str) -> str:
        return f"{self.base_url}/openai/deployments/{self.deployment(model)}/{path}"

    def responses_url(self, model: str) -> str:
        """Azure's Responses endpoint is per resource; the deployment goes in the body's `model`."""
        return f"{self.base_url}/openai/responses"

    def responses_model(self, model: str) -> str:
        return self.deployment(model)

    def params(self) -> dict[str, str] | None:
        return {"api-version": self.azure_options.api_version}
