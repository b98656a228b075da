"""Churn-risk ("activity decline") model: snapshot features, label, model selection, SHAP, artifacts, scoring.

Modules: `registry` (one `ModelSpec` per model: the churn model and the cluster classifier; the demo build, CLI
and API read it), `features` (one SQL snapshot per cutoff date), `selection` (model search over families),
`churn_training` (`train_churn_model`), `explain` (SHAP reasons in plain words), `artifact` (joblib + JSON card),
`scoring` (the `churn_scores` table), `cluster_model` (the cluster classifier as a registered model),
`commands` (the `train`, `score` and `models` CLI commands).
"""
