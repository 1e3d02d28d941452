"""What an evaluation of one split computed: the results of its evaluators, and notes.

:class:`EvaluationReport` holds the full results (count arrays, curves) that
tables and figures are drawn from; :meth:`EvaluationReport.scores` gives their
serializable numbers (:class:`~wsolkit.metrics.scores.SplitScores`), which is
what runs record and ``wsolkit compare`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wsolkit.metrics.results import ClassificationResult, LocalizationResult, MaskResult
from wsolkit.metrics.scores import AtTaus, SplitScores, Taus


@dataclass
class EvaluationReport:
    """The results of one split; a field is None where its metric did not apply.

    ``classification``: top-1/top-5 accuracy (present when every image came with
    predictions); ``box``: the box metrics; ``mask``: PxAP; ``images``: how many
    images were evaluated; ``at_tau``: the split read at thresholds chosen elsewhere
    (:meth:`read_at`), beside the oracle numbers.
    """

    images: int
    classification: ClassificationResult | None = None
    box: LocalizationResult | None = None
    mask: MaskResult | None = None
    notes: list[str] = field(default_factory=list)
    at_tau: AtTaus | None = None

    def read_at(self, taus: Taus) -> AtTaus:
        """Read this split at ``taus`` (e.g. val's best thresholds); kept as :attr:`at_tau`."""
        from wsolkit.metrics.thresholds import at_taus

        self.at_tau = at_taus(taus, self.box, self.mask)
        return self.at_tau

    @property
    def score_name(self) -> str | None:
        """The checkpoint-selection score: MaxBoxAccV2, or PxAP on a mask-only split."""
        if self.box is not None:
            return "MaxBoxAccV2"
        return "PxAP" if self.mask is not None else None

    @property
    def score(self) -> float | None:
        """The value of :attr:`score_name`."""
        if self.box is not None:
            return self.box.max_box_acc_v2
        return self.mask.pxap if self.mask is not None else None

    def scores(self, *, curves: bool = False) -> SplitScores:
        """The numbers, typed (curves only when asked: they are long)."""
        accuracy = self.classification
        return SplitScores(
            images=self.images,
            top1=accuracy.accuracy(1) if accuracy is not None else None,
            top5=accuracy.accuracy(5) if accuracy is not None else None,
            localization=self.box.scores(curves=curves) if self.box is not None else None,
            mask=self.mask.scores(curves=curves) if self.mask is not None else None,
            score_name=self.score_name,
            score=self.score,
            at_tau=self.at_tau,
        )

    def to_dict(self, *, curves: bool = True) -> dict[str, Any]:
        """The JSON of ``wsolkit eval --json``: accuracy, the box keys at the top level,
        ``pxap`` (and its curve) beside them, and the notes."""
        scores = self.scores(curves=curves)
        out: dict[str, Any] = {}
        if scores.top1 is not None:
            out.update(top1=scores.top1, top5=scores.top5)
        if scores.localization is not None:
            out.update(scores.localization.to_json())
        else:
            out["images"] = self.images
        if scores.mask is not None:
            mask = scores.mask
            out["pxap"] = mask.pxap
            out["mask_images"] = mask.images
            if curves and mask.pr_curve is not None:
                out["pxap_curve"] = mask.pr_curve.model_dump()
        if scores.at_tau is not None:
            out["at_tau"] = scores.at_tau.model_dump(mode="json")
        if self.notes:
            out["notes"] = list(self.notes)
        return out
