"""REST API of the churn model: a Flask Blueprint under /api/v1 on the app's server (`register_api`).

Modules, lowest first: `schemas` (pydantic request/answer models, limits, the JSON error answer `ApiProblem`),
`risk_reads` (reads of `churn_scores`), `model_stores` (the served churn model and cluster classifier),
`openapi` (the route declaration `ApiRoute` and the OpenAPI 3.1 document generated from the route table),
`docs_page` (the plain-HTML docs page), `routes` (the route table `ROUTES`, its handlers and the blueprint; the
generic `/models` routes answer for every model of `ml.registry`).
"""

from ml.api.routes import ROUTES, build_blueprint, register_api

__all__ = ["ROUTES", "build_blueprint", "register_api"]
