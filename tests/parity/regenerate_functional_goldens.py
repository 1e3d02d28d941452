"""Regenerate tests/functional/data/reference_golden.npz with the reference code.

Run (a script, not a test), with your own local clones of the two references::

    python tests/parity/regenerate_functional_goldens.py \\
        --bridging-gap PATH/TO/bridging-gap-wsol --wsolevaluation PATH/TO/wsolevaluation [--check]

The golden file holds the inputs of each case and what the reference code
returns for them; the inputs are kept (read from ``--inputs``, by default the
golden file itself) and the outputs recomputed:

- ``align_{a,b}_{max,target}_{sim,norm,grad_features,grad_weights}``:
  bridging-gap ``trainer.Trainer._get_loss_alignment`` (``dataset_name`` CUB
  gives the "max" norm region, ILSVRC "target"; thresholds ``align_thresholds``
  row a or b) on ``align_features`` / ``align_labels``, with the similarity map
  ``sim`` from ``wsol.vgg.VggDrop.forward`` whose trunk, conv6 and ReLU are
  identities and whose ``fc.weight`` is ``align_weights``; gradients of
  ``0.5 · L_sim + 0.15 · L_norm`` with respect to the features and the weights
  (used by tests/functional/test_functional_alignment.py);
- ``drop_seed{0,1,2}``: bridging-gap ``wsol.method.AttentiveDrop(0.8, 0.5)`` on
  ``drop_features`` after ``torch.manual_seed(seed)`` (test_functional_erasing.py);
- ``adl_seed{0,1,2,3}``: wsolevaluation ``wsol.method.ADL(0.75, 0.9)`` in training
  mode on ``adl_features`` after ``torch.manual_seed(seed)`` (test_functional_adl.py).

Without ``--check`` the script writes the inputs and the recomputed outputs to
``--output`` (by default the golden file). With ``--check`` it writes nothing,
compares each output with the golden file bit for bit and exits with status 1 on
any difference. Bit-for-bit equality needs the same CPU kernels and torch thread
count as the golden run: ``--threads`` (default 2, as for the current file) sets
it. Other counts change the weight gradients in the last bit (about 1e-9),
which the tests' tolerance absorbs.

The script never downloads anything and the repository holds no reference code:
it imports from the clones you pass (see ``reference_repo.py`` for the numpy and
optional-import shims). It needs wsolkit's environment (torch, torchvision,
numpy, OpenCV, Pillow, matplotlib).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_repo import check_clone, reference_repo  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[1] / "functional" / "data" / "reference_golden.npz"
INPUTS = (
    "align_features",
    "align_weights",
    "align_labels",
    "align_thresholds",
    "drop_features",
    "adl_features",
)
ALIGN_TAGS = ("a", "b")  # the rows of align_thresholds: (fg, bg) = (0.6, 0.1), (0.4, 0.2)
ALIGN_REGIONS = {"max": "CUB", "target": "ILSVRC"}  # norm region: the reference's dataset_name
LAMBDA_SIM, LAMBDA_NORM = 0.5, 0.15
DROP_SEEDS = (0, 1, 2)
ADL_SEEDS = (0, 1, 2, 3)


def similarity_model(vgg_drop: type[nn.Module], weights: torch.Tensor) -> nn.Module:
    """The reference ``VggDrop`` reduced to its last step: features in, ``sim`` out.

    Its trunk (three parts), conv6 and ReLU become identities, so ``feature`` is
    the input itself; ``fc`` is a linear layer with the given K×C weight.
    """
    model = vgg_drop(nn.ModuleList([nn.Identity(), nn.Identity(), nn.Identity()]), num_classes=1)
    model.conv6 = nn.Identity()
    model.relu = nn.Identity()
    model.fc = nn.Linear(weights.shape[1], weights.shape[0])
    model.fc.weight = nn.Parameter(weights.clone())
    nn.init.zeros_(model.fc.bias)
    return model


def bridging_gap_outputs(root: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The alignment losses and gradients, and the attentive-drop outputs."""
    out: dict[str, np.ndarray] = {}
    with reference_repo(root):
        import trainer
        from wsol.method import AttentiveDrop
        from wsol.vgg import VggDrop

        labels = torch.from_numpy(inputs["align_labels"])
        for row, tag in enumerate(ALIGN_TAGS):
            fg, bg = inputs["align_thresholds"][row].tolist()
            for region, dataset_name in ALIGN_REGIONS.items():
                features = torch.from_numpy(inputs["align_features"]).requires_grad_(True)
                model = similarity_model(VggDrop, torch.from_numpy(inputs["align_weights"]))
                output = model(features)
                args = SimpleNamespace(dataset_name=dataset_name, sim_fg_thres=fg, sim_bg_thres=bg)
                loss_sim, loss_norm = trainer.Trainer._get_loss_alignment(
                    SimpleNamespace(args=args), output["feature"], output["sim"], labels
                )
                (LAMBDA_SIM * loss_sim + LAMBDA_NORM * loss_norm).backward()
                key = f"align_{tag}_{region}"
                out[f"{key}_sim"] = loss_sim.detach().numpy()
                out[f"{key}_norm"] = loss_norm.detach().numpy()
                out[f"{key}_grad_features"] = features.grad.numpy()
                out[f"{key}_grad_weights"] = model.fc.weight.grad.numpy()

        drop = AttentiveDrop(0.8, 0.5)
        features = torch.from_numpy(inputs["drop_features"])
        for seed in DROP_SEEDS:
            torch.manual_seed(seed)
            out[f"drop_seed{seed}"] = drop(features).numpy()
    return out


def wsolevaluation_outputs(root: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ADL layer's outputs."""
    out: dict[str, np.ndarray] = {}
    with reference_repo(root):
        from wsol.method import ADL

        layer = ADL(0.75, 0.9).train()
        features = torch.from_numpy(inputs["adl_features"])
        for seed in ADL_SEEDS:
            torch.manual_seed(seed)
            out[f"adl_seed{seed}"] = layer(features).numpy()
    return out


def golden_file(inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> dict:
    """Inputs and outputs in the order of the golden file."""
    aligned = {k: v for k, v in outputs.items() if k.startswith("align_")}
    ordered = {k: inputs[k] for k in ("align_features", "align_weights", "align_labels")}
    ordered |= aligned | {"align_thresholds": inputs["align_thresholds"]}
    ordered["drop_features"] = inputs["drop_features"]
    ordered |= {f"drop_seed{s}": outputs[f"drop_seed{s}"] for s in DROP_SEEDS}
    ordered["adl_features"] = inputs["adl_features"]
    ordered |= {f"adl_seed{s}": outputs[f"adl_seed{s}"] for s in ADL_SEEDS}
    return ordered


def differences(outputs: dict[str, np.ndarray], golden: dict[str, np.ndarray]) -> list[str]:
    """Each output that is not bit for bit the golden one, with its largest deviation."""
    found = []
    for key in sorted(outputs.keys() | (golden.keys() - set(INPUTS))):
        if key not in golden or key not in outputs:
            found.append(f"{key}: only in {'the golden file' if key in golden else 'the output'}")
            continue
        new, old = outputs[key], golden[key]
        if new.dtype != old.dtype or new.shape != old.shape:
            found.append(f"{key}: {new.dtype}{new.shape}, golden {old.dtype}{old.shape}")
        elif not np.array_equal(new, old, equal_nan=True):
            deviation = np.abs(new.astype(np.float64) - old.astype(np.float64)).max()
            found.append(f"{key}: differs, largest absolute deviation {deviation:.3g}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bridging-gap", type=Path, required=True, help="your clone of ejkim47/bridging-gap-wsol"
    )
    parser.add_argument(
        "--wsolevaluation", type=Path, required=True, help="your clone of clovaai/wsolevaluation"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the golden file; exit 1 on any difference",
    )
    parser.add_argument(
        "--inputs", type=Path, default=GOLDEN, help="file with the input arrays (the golden file)"
    )
    parser.add_argument(
        "--output", type=Path, default=GOLDEN, help="where to write (default: the golden file)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args(argv)
    bridging_gap = check_clone(
        args.bridging_gap, "--bridging-gap", ["trainer.py", "wsol/vgg.py", "wsol/method/drop.py"]
    )
    wsolevaluation = check_clone(args.wsolevaluation, "--wsolevaluation", ["wsol/method/adl.py"])
    torch.set_num_threads(args.threads)
    with np.load(args.inputs) as stored:
        golden = {key: stored[key] for key in stored.files}
    inputs = {key: golden[key] for key in INPUTS}
    outputs = bridging_gap_outputs(bridging_gap, inputs) | wsolevaluation_outputs(
        wsolevaluation, inputs
    )
    if not args.check:
        np.savez_compressed(args.output, **golden_file(inputs, outputs))
        print(f"wrote {len(outputs)} outputs and {len(inputs)} inputs to {args.output}")
        return 0
    found = differences(outputs, golden)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} difference(s) from {args.inputs}")
        return 1
    print(f"all {len(outputs)} golden outputs equal those in {args.inputs}, bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
