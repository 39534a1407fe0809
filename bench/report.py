"""Figures of interleaved rounds, and the table that puts hopla beside its reference."""

import statistics
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Row:
    """One line: hopla's figure, the reference's, and their ratio (median of the per-round ratios)."""

    workload: str
    metric: str
    hopla: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    note: str = ""

    def add(self, hopla: float, reference: float) -> None:
        self.hopla.append(hopla)
        self.reference.append(reference)

    @property
    def ratios(self) -> list[float]:
        if not self.reference:
            return []  # a figure with no reference (W6's latency: its target is absolute)
        return [h / r for h, r in zip(self.hopla, self.reference, strict=True) if r]

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    def note_spread(self) -> None:
        """Adds the per-round ratios' range to the note: how far one round may stray from the median."""
        if len(self.ratios) > 1:
            spread = f"rounds {min(self.ratios):.2f}-{max(self.ratios):.2f}"
            self.note = f"{self.note}; {spread}" if self.note else spread


def _figure(values: list[float]) -> str:
    if not values:
        return "-"
    value = statistics.median(values)
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(rows: list[Row], title: str) -> str:
    header = ["workload", "metric", "hopla", "reference", "hopla/ref", "note"]
    lines = [
        [
            row.workload,
            row.metric,
            _figure(row.hopla),
            _figure(row.reference),
            "-" if row.ratio is None else f"{row.ratio:.2f}",
            row.note,
        ]
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *lines]) for column in range(len(header))]
    out = [title, " | ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()]
    out.append("-|-".join("-" * width for width in widths))
    out += [" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines]
    return "\n".join(out)


def pooled_percentile_ms(latencies_us: Counter[int], fraction: float) -> float:
    """The `fraction` percentile, in ms, of every request of a histogram (microseconds -> requests)."""
    total = sum(latencies_us.values())
    rank = min(total - 1, int(total * fraction))
    seen = 0
    for value in sorted(latencies_us):
        seen += latencies_us[value]
        if seen > rank:
            return value / 1000
    return float("nan")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
