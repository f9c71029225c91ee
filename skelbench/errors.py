"""Exceptions the command line reports in one line; here, so that it need not import torch."""


class ConfigError(ValueError):
    """A recipe, card, override or suite that cannot be used; the message names it."""


class NonFiniteLoss(RuntimeError):
    pass


class CheckpointError(RuntimeError):
    pass
