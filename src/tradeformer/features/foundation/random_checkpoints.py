"""Randomly initialised Chronos / Chronos-Bolt / Kronos checkpoints saved to a directory.

They load through exactly the same `from_pretrained` path as the published weights, with no
network: for tests (`tiny`) and for timing the real architectures (`small`, the shapes of
amazon/chronos-t5-small, amazon/chronos-bolt-small and, approximately, Kronos-small). Their
embeddings carry no pre-trained knowledge.
"""

from __future__ import annotations

from pathlib import Path

import torch

QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def _t5_sizes(size: str) -> dict:
    if size == "tiny":
        return {
            "d_model": 512,
            "d_ff": 64,
            "num_layers": 1,
            "num_decoder_layers": 1,
            "num_heads": 2,
            "d_kv": 16,
        }
    if size == "small":  # chronos-t5-small / chronos-bolt-small
        return {
            "d_model": 512,
            "d_ff": 2048,
            "num_layers": 6,
            "num_decoder_layers": 6,
            "num_heads": 8,
            "d_kv": 64,
        }
    raise ValueError(f"size must be 'tiny' or 'small', not {size!r}")


def save_random_chronos(path: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """A Chronos (T5, mean-scale uniform bins tokenizer) checkpoint with random weights."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    n_tokens = 4096
    config = T5Config(
        vocab_size=n_tokens,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        **_t5_sizes(size),
    )
    config.chronos_pipeline_class = "ChronosPipeline"
    config.chronos_config = {
        "tokenizer_class": "MeanScaleUniformBins",
        "tokenizer_kwargs": {"low_limit": -15.0, "high_limit": 15.0},
        "context_length": 512,
        "prediction_length": 64,
        "n_tokens": n_tokens,
        "n_special_tokens": 2,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "use_eos_token": True,
        "model_type": "seq2seq",
        "num_samples": 20,
        "temperature": 1.0,
        "top_k": 50,
        "top_p": 1.0,
    }
    model = T5ForConditionalGeneration(config)
    model.save_pretrained(path)
    return Path(path)


def save_random_chronos_bolt(path: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """A Chronos-Bolt checkpoint (patched T5 encoder-decoder) with random weights."""
    from chronos.chronos_bolt import ChronosBoltModelForForecasting
    from transformers import T5Config

    torch.manual_seed(seed)
    config = T5Config(vocab_size=2, decoder_start_token_id=0, pad_token_id=0, **_t5_sizes(size))
    config.chronos_pipeline_class = "ChronosBoltPipeline"
    config.architectures = ["ChronosBoltModelForForecasting"]
    config.chronos_config = {
        "context_length": 2048,
        "prediction_length": 64,
        "input_patch_size": 16,
        "input_patch_stride": 16,
        "quantiles": QUANTILES,
        "use_reg_token": True,
    }
    ChronosBoltModelForForecasting(config).save_pretrained(path)
    return Path(path)


def save_random_kronos(path: str | Path, size: str = "tiny", seed: int = 0) -> tuple[Path, Path]:
    """KronosTokenizer + Kronos with random weights in `path/tokenizer` and `path/model`."""
    from tradeformer.features.foundation.kronos import kronos_classes

    kronos_cls, tokenizer_cls = kronos_classes()
    torch.manual_seed(seed)
    tiny = size == "tiny"
    if size not in ("tiny", "small"):
        raise ValueError(f"size must be 'tiny' or 'small', not {size!r}")
    tok = tokenizer_cls(
        d_in=6,
        d_model=64 if tiny else 256,
        n_heads=2 if tiny else 4,
        ff_dim=64 if tiny else 512,
        n_enc_layers=2 if tiny else 4,
        n_dec_layers=2 if tiny else 4,
        ffn_dropout_p=0.0,
        attn_dropout_p=0.0,
        resid_dropout_p=0.0,
        s1_bits=10,
        s2_bits=10,
        beta=0.05,
        gamma0=1.0,
        gamma=1.1,
        zeta=0.05,
        group_size=4,
    )
    model = kronos_cls(
        s1_bits=10,
        s2_bits=10,
        n_layers=1 if tiny else 8,
        d_model=512,
        n_heads=2 if tiny else 8,
        ff_dim=64 if tiny else 1024,
        ffn_dropout_p=0.0,
        attn_dropout_p=0.0,
        resid_dropout_p=0.0,
        token_dropout_p=0.0,
        learn_te=True,
    )
    path = Path(path)
    tok.save_pretrained(path / "tokenizer")
    model.save_pretrained(path / "model")
    return path / "model", path / "tokenizer"
