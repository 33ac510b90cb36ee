"""shipahead's dispatch service: route plans over HTTP that adapt through the day.

``shipahead serve`` runs :func:`create_app` under uvicorn. The API (FastAPI; OpenAPI at
``/docs`` and ``/openapi.json``) accepts VROOM problems and events, stores them (see
:mod:`shipahead.store.dispatch`) before it answers, and solves them in solver processes
(:mod:`shipahead.service.dispatcher`); the dispatcher console is served at ``GET /`` from
``service/static`` (``/static/…``).
"""

from shipahead.service.app import ServiceError, create_app
from shipahead.service.settings import ServiceLimits, ServiceSettings, default_db_url

__all__ = ["ServiceError", "ServiceLimits", "ServiceSettings", "create_app", "default_db_url"]
