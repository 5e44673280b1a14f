"""Names of prediction columns, one scheme everywhere (test frame, OOF frame, predictions,
veto features): `<member>_<quantity>[_<horizon>]`, e.g. `tft_ret_5`, `ensemble_prob_3`,
`timeformer_attn_entropy`."""

from __future__ import annotations

ENSEMBLE = "ensemble"
# the spec's output field for TimeFormer-XL's return is `stockformer_ret`
SPEC_ALIASES = {"timeformer": "stockformer"}


def prediction_column(member: str, quantity: str, horizon: int | None = None) -> str:
    return f"{member}_{quantity}" if horizon is None else f"{member}_{quantity}_{horizon}"
