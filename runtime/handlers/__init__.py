"""HTTP endpoint handlers: one module per job, shared chat pipeline for both client dialects."""
