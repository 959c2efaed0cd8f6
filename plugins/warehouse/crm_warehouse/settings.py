"""``[plugins.warehouse]``: the sales pipeline and the document folder.

::

    [plugins.warehouse]
    default_currency = "EUR"
    documents_dir = "documents"       # relative to the configuration file
    max_document_mb = 25

    [plugins.warehouse.pipeline]
    stages = ["new", "qualified", "proposal", "negotiation", "won", "lost"]
    won_stage = "won"
    lost_stage = "lost"
    probabilities = { new = 0.1, qualified = 0.25, proposal = 0.5, negotiation = 0.75 }
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["DEFAULT_PROBABILITIES", "DEFAULT_STAGES", "PipelineSettings", "WarehouseSettings"]

DEFAULT_STAGES = ["new", "qualified", "proposal", "negotiation", "won", "lost"]
DEFAULT_PROBABILITIES = {"new": 0.1, "qualified": 0.25, "proposal": 0.5, "negotiation": 0.75}


def _check_currency(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    from crm_warehouse.money import currency_problem

    problem = currency_problem(value)
    if problem:
        raise ValueError(problem)


@attrs.frozen
class PipelineSettings:
    """``[plugins.warehouse.pipeline]``: the stages a sales record moves through.

    ``stages`` are in pipeline order; a new record starts in the first one.
    ``won_stage`` and ``lost_stage`` are the two closing stages (win
    probability 1 and 0). Every other stage needs a win probability in
    ``probabilities``, between 0 and 1.
    """

    stages: list[str] = attrs.field(factory=lambda: list(DEFAULT_STAGES))
    won_stage: str = "won"
    lost_stage: str = "lost"
    probabilities: dict[str, float] = attrs.field(factory=lambda: dict(DEFAULT_PROBABILITIES))

    def __attrs_post_init__(self) -> None:
        stages = self.stages
        if len(stages) < 3:
            raise ValueError(f"stages must list at least one open stage and the won and lost stages, not {stages!r}")
        bad = [s for s in stages if not isinstance(s, str) or not s.strip() or s != s.strip().lower() or len(s) > 40]
        if bad:
            raise ValueError(f"stage names are lower-case words of up to 40 characters, not {bad[0]!r}")
        seen = [s for i, s in enumerate(stages) if s in stages[:i]]
        if seen:
            raise ValueError(f"stage {seen[0]!r} is listed twice in stages")
        for key, value in (("won_stage", self.won_stage), ("lost_stage", self.lost_stage)):
            if value not in stages:
                raise ValueError(f"{key} {value!r} is not one of the stages ({', '.join(stages)})")
        if self.won_stage == self.lost_stage:
            raise ValueError("won_stage and lost_stage must be two different stages")
        unknown = sorted(set(self.probabilities) - set(stages))
        if unknown:
            raise ValueError(
                f"probabilities names {unknown[0]!r}, which is not one of the stages ({', '.join(stages)})"
            )
        for stage in self.open_stages:
            if stage not in self.probabilities:
                raise ValueError(
                    f"probabilities has no win probability for the open stage {stage!r}; add {stage} = 0.5 (0 to 1)"
                )
        for stage, p in self.probabilities.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"probabilities.{stage} = {p} is not between 0 and 1")

    @property
    def open_stages(self) -> list[str]:
        return [s for s in self.stages if s not in (self.won_stage, self.lost_stage)]

    @property
    def first_stage(self) -> str:
        return self.open_stages[0]

    def probability(self, stage: str) -> float:
        if stage == self.won_stage:
            return 1.0
        if stage == self.lost_stage:
            return 0.0
        return float(self.probabilities.get(stage, 0.0))

    def is_closed(self, stage: str) -> bool:
        return stage in (self.won_stage, self.lost_stage)


@attrs.frozen
class WarehouseSettings:
    """``[plugins.warehouse]``."""

    #: ISO 4217 code used when a sales record names no currency
    default_currency: str = attrs.field(default="EUR", validator=_check_currency)
    #: folder of the content-addressed document store, relative to the configuration file
    documents_dir: str = "documents"
    #: largest document accepted, in megabytes (10**6 bytes)
    max_document_mb: float = attrs.field(default=25.0)
    #: closing a record as lost needs a reason
    require_lost_reason: bool = False
    pipeline: PipelineSettings = attrs.field(factory=PipelineSettings)

    @max_document_mb.validator
    def _check_size(self, attribute: attrs.Attribute[float], value: float) -> None:
        if not value > 0:
            raise ValueError(f"must be a positive number of megabytes, not {value}")

    @property
    def max_document_bytes(self) -> int:
        return int(self.max_document_mb * 1_000_000)
