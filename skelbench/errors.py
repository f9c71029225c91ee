"""Exceptions the command line reports in one line; here, so that it need not import torch."""


class NonFiniteLoss(RuntimeError):
    pass


class CheckpointError(RuntimeError):
    pass
