"""The HTTP API: ``GET /api/v1/customer-journey-details``, the published contract.

:mod:`~journey_api.app` assembles the FastAPI app (settings, dependencies, error handlers),
:mod:`~journey_api.routes` is the endpoint as a module-level router with ``Depends``,
:mod:`~journey_api.server` serves it (``journey serve``), and :mod:`~journey_api.cache`,
:mod:`~journey_api.cursor` and :mod:`~journey_api.logs` are its parts.
"""

__all__: list[str] = []  # the modules are imported by name; nothing is re-exported
