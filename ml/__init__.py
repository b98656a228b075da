"""Churn-risk ("activity decline") model: snapshot features, label, model selection, SHAP, artifacts, scoring.

Modules: `features` (one SQL snapshot per cutoff date), `selection` (model search over families),
`explain` (SHAP reasons in plain words), `artifact` (joblib + JSON card), `scoring` (the
`churn_scores` table), `commands` (the `train` and `score` CLI commands).
"""
