"""The registry's HTTP service: FastAPI JSON API, server-rendered pages, authentication, rate limits.

`create_app(config)` builds the app; `modelcert serve` runs it with uvicorn. Business rules live in
`modelcert.registry.ledger`; this package only translates HTTP to ledger calls and back.
"""
