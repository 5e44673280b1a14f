"""Hyperparameter search on the validation folds (`tradeformer tune`): a search space over
config keys (`space.py`), the out-of-fold objective (`objective.py`), an Optuna study on
SQLite that resumes and takes several workers (`study.py`)."""
