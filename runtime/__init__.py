"""bifrostc runtime: the Starlette gateway that serves a generated out/ directory."""
