"""What each built-in method's model returns, shared by the method tests.

Keyed by wsolkit's own method names; ``test_method_models.py`` checks that the
keys match the registry, so a new method fails until its entry is added here.
"""

from __future__ import annotations

EVAL_OUTPUTS = frozenset({"logits", "features"})

# Outputs in training mode. A method with more than EVAL_OUTPUTS has a second (erased) path
# or auxiliary branches, which must not run in eval mode (TRAINING_ONLY).
TRAINING_OUTPUTS = {
    "acol": EVAL_OUTPUTS | {"logits_erased"},
    "adl": EVAL_OUTPUTS,
    "aligned-eil": EVAL_OUTPUTS | {"features_erased", "similarity"},
    "cam": EVAL_OUTPUTS,
    "cutmix": EVAL_OUTPUTS,
    "eil": EVAL_OUTPUTS | {"logits_erased"},
    "has": EVAL_OUTPUTS,
    "spg": EVAL_OUTPUTS | {"class_maps", "logits_b1", "logits_b2", "logits_c"},
}
# For each method with training-only outputs: the attribute (a method or a module of the
# model) that only the training path calls; eval mode must not call it.
TRAINING_ONLY = {
    "acol": "backbone.head.classifier_b",
    "aligned-eil": "f2",
    "eil": "f2",
    "spg": "backbone.head.branch_c",
}
