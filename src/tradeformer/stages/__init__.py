"""Training and evaluation as named stages over a run directory.

Each stage reads the artefacts earlier stages wrote and writes its own (listed in
`stages.artifacts`), so any later stage can run alone on an existing run:
`tradeformer train --resume RUN --stages veto,bundle`.

| stage      | reads                                   | writes                                   |
|------------|-----------------------------------------|------------------------------------------|
| `data`     | config.yaml, the bars                   | data.json, calendar.json (+ the caches)  |
| `deep`     | data.json                               | deep/ (fold checkpoints, final members,  |
|            |                                         | predictions.safetensors), oof.parquet    |
| `veto`     | data.json, deep/                        | veto/, test_predictions.parquet,         |
|            |                                         | metrics.json                             |
| `bundle`   | data.json, deep/final, veto/, metrics   | bundle/, summary.json                    |
| `evaluate` | data.json, test_predictions, bundle/    | evaluation/                              |
| `report`   | evaluation/                             | report/                                  |
"""

from tradeformer.stages.runner import STAGES, TRAINING_STAGES, RunContext, parse_stages, run_stages

__all__ = ["STAGES", "TRAINING_STAGES", "RunContext", "parse_stages", "run_stages"]
