"""What each built-in method's model returns, shared by the method tests.

Keyed by wsolkit's own method names; ``test_method_models.py`` checks that the
keys match the registry, so a new method fails until its entry is added here.
"""

from __future__ import annotations

EVAL_OUTPUTS = frozenset({"logits", "features"})

# Outputs in training mode. A method with more than EVAL_OUTPUTS has a second (erased)
# path through f2, which must not run in eval mode.
TRAINING_OUTPUTS = {
    "adl": EVAL_OUTPUTS,
    "aligned-eil": EVAL_OUTPUTS | {"features_erased", "similarity"},
    "cam": EVAL_OUTPUTS,
    "cutmix": EVAL_OUTPUTS,
    "eil": EVAL_OUTPUTS | {"logits_erased"},
    "has": EVAL_OUTPUTS,
}
