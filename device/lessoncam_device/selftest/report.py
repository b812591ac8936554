"""What a self-test found: one ``Check`` per part, said in plain words or as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """One part's result: what was seen (``said``), and for a failure the fix (for a skipped
    check, why it was skipped), with the measured ``figures``."""

    name: str
    status: Status
    said: str
    fix: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def passed(name: str, said: str, **figures: Any) -> Check:
    return Check(name, "pass", said, None, figures)


def failed(name: str, said: str, fix: str, **figures: Any) -> Check:
    return Check(name, "fail", said, fix, figures)


def skipped(name: str, why: str, **figures: Any) -> Check:
    return Check(name, "skip", "skipped", why, figures)


@dataclass
class Report:
    """Every check, in the order they ran."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check failed (skipped ones do not count against the unit)."""
        return all(c.status != "fail" for c in self.checks)

    def named(self, name: str) -> Check:
        """The check called ``name`` (KeyError if it did not run)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def lines(self) -> list[str]:
        """The report for a person: one line per check, the fix on the next."""
        out = []
        for c in self.checks:
            out.append(f"{c.status.upper():4}  {c.name}: {c.said}")
            if c.fix:
                out.append(f"      {'why' if c.status == 'skip' else 'fix'}: {c.fix}")
        failures = sum(c.status == "fail" for c in self.checks)
        out.append(
            "all checks passed"
            if self.ok
            else f"{failures} check{'s' if failures > 1 else ''} failed: see 'fix' above"
        )
        return out

    def as_json(self) -> dict[str, Any]:
        """The report for a program (``--json``)."""
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}
