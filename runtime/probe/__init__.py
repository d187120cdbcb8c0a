"""`bifrostc probe`: a short scripted Claude Code-like conversation per route, through the adapters `serve` uses.

`script` builds the requests, `observe` reads a canonical stream into what Claude Code depends on, `verdict`
judges it, `runner` drives the adapters and `report` renders the result for people and for CI.
"""
