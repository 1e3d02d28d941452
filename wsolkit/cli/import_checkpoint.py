"""``wsolkit import-checkpoint``: bring a checkpoint of the field's reference code in."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wsolkit.cli._app import command_app, err_console, out_console

app = command_app()

EPILOG = """
**Formats** (`--from`; `auto` recognises them from the file's keys and says why):

- `wsolevaluation` — github.com/clovaai/wsolevaluation, `main.py`'s
  `{architecture, epoch, state_dict, optimizer}` (or a bare state dict). CAM, HaS and
  CutMix (one network), ACoL, SPG and ADL on VGG16, ResNet50 and InceptionV3: key renames
  only (ADL's layers shift the indices after them; the `SPG_A*` blocks go back into
  wsolkit's trunk and head; ACoL's `classifier_A`/`_B` are its two heads).
- `bridging-gap` — github.com/ejkim47/bridging-gap-wsol, its trainer's `{state_dict}`:
  the vanilla networks (wsolevaluation's keys) and `drop` = aligned EIL, VGG16 and ResNet50
  (its split `features` / `layer4_*` modules renamed).
- `da-wsol` — github.com/zh460045050/DA-WSOL_CVPR2022 (BagCAMs saves the same):
  `state_dict_extractor` + `state_dict_classifier`; ResNet50 (CAM, ADL) and InceptionV3;
  the 1×1-conv classifier K×2048×1×1 squeezed into the linear head.
- `ts-cam` — github.com/vasgaowei/TS-CAM, `train_cam.py`'s `{epoch, state_dict, best_map}`:
  DeiT-S with its 3×3-conv class-map head, as the `wsolkit-timm` plugin's `deit_small` with
  `ts-cam` (install the plugin first: pip install plugins/wsolkit-timm).

A `module.` prefix (DataParallel / DDP) is stripped wherever it appears. The class count is
read from the classifier (`--num-classes` only confirms it); `--large-feature-map` is
checked against the weights where they tell (VGG16). The file is read without running any of
its code. Details and key tables: docs/checkpoints.md.

**Examples**

- `wsolkit import-checkpoint vgg16_cam_best.pth.tar --backbone vgg16 --method cam --out cam.pt`
- `wsolkit import-checkpoint dawsol_cub.pth.tar --from da-wsol --backbone resnet50 --method cam
  --large-feature-map --data ~/data/CUB_200_2011/wsolkit --out dawsol.pt`
- then `wsolkit eval cam.pt --data ~/data/CUB_200_2011/wsolkit` — its numbers on CUB's test split.
"""


@app.command("import-checkpoint", epilog=EPILOG)
def import_checkpoint(
    src: Path = typer.Argument(..., help="The checkpoint file of the reference code."),
    source_format: str = typer.Option(
        "auto", "--from", help="auto | wsolevaluation | bridging-gap | da-wsol | ts-cam."
    ),
    backbone: str = typer.Option(
        ..., "--backbone", help="vgg16 | resnet50 | inception_v3 | deit_small (wsolkit-timm)."
    ),
    method: str = typer.Option(
        ..., "--method", help="The method it was trained with (cam, has, cutmix, adl, …)."
    ),
    large_feature_map: bool = typer.Option(
        False, "--large-feature-map", help="The 28×28 (not 14×14) feature map at 224 px."
    ),
    num_classes: int | None = typer.Option(
        None, "--num-classes", min=1, help="Confirm the class count (read from the weights)."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="Record the registered dataset (cub, imagenet, openimages)."
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Record the prepared dataset it is evaluated on (its class count must match).",
    ),
    out: Path = typer.Option(..., "--out", help="The wsolkit checkpoint to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    as_json: bool = typer.Option(False, "--json", help="Print what was imported as JSON."),
) -> None:
    """Import a checkpoint of wsolevaluation, bridging-gap, DA-WSOL / BagCAMs or TS-CAM as a wsolkit
    checkpoint, which export-cams, eval and compare then use like a trained one."""
    from wsolkit.engine.importing import import_checkpoint as run_import

    result = run_import(
        src,
        source_format=source_format,
        backbone=backbone,
        method=method,
        large_feature_map=large_feature_map,
        num_classes=num_classes,
        dataset=dataset,
        data=data,
        out=out,
        overwrite=overwrite,
    )
    if as_json:
        payload = {
            "out": str(result.out),
            "format": result.format,
            "detected": result.detected,
            "backbone": result.backbone,
            "method": result.method,
            "large_feature_map": result.large_feature_map,
            "num_classes": result.num_classes,
            "confirmed": list(result.confirmed),
            "sha256": result.sha256,
            "mapping": result.mapping.splitlines(),
            "notes": list(result.notes),
            "dataset": result.dataset,
            "data": str(result.data) if result.data else None,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    if result.detected:
        err_console.print(f"[dim]recognised: {result.detected}[/]", highlight=False)
    size = "28×28" if result.large_feature_map else "14×14"
    out_console.print(
        f"imported {src} ({result.format}) as {result.backbone} · {result.method} · "
        f"{result.num_classes} classes · {size} → {result.out}"
    )
    out_console.print(f"[dim]mapping:[/] {'; '.join(result.mapping.splitlines())}")
    for note in result.notes:
        out_console.print(f"[dim]note:[/] {note}")
    data_flag = "" if result.data else " --data DIR"
    out_console.print(f"next: wsolkit eval {result.out}{data_flag}")
