"""Data-parallel training across processes (`torchrun --nproc-per-node N -m tradeformer
train ...`): the process group from torchrun's environment, who writes, and how an epoch's
batches are shared out."""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


def init_from_env() -> tuple[int, int]:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR/PORT) once:
    NCCL when this process has a GPU, gloo otherwise. A plain `tradeformer train` (no
    WORLD_SIZE, or 1) stays a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and dist.is_available() and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
        log.info("process group: %d processes (%s)", dist.get_world_size(), backend)
    return rank_and_world()


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def broadcast(value):
    """Rank 0's `value` on every rank (any picklable object; a no-op in one process)."""
    if rank_and_world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shard_batches(batches: list[np.ndarray], rank: int, world: int) -> list[np.ndarray]:
    """This rank's batches of an epoch: batch k goes to rank k % world, after dropping the
    last `len % world` batches so every rank takes the same number of steps (a rank without a
    batch would leave the others waiting in the gradient all-reduce). With equal batch sizes,
    one step of N ranks equals one step of a single process on the union of their batches."""
    if world == 1:
        return batches
    if len(batches) < world:  # fewer batches than ranks: every rank repeats some
        batches = (batches * world)[:world]
    keep = len(batches) - len(batches) % world
    return batches[:keep][rank::world]
