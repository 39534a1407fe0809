"""The status workflow: which moves a ticket's status may make."""

from hopla.api.exceptions import StateConflict
from tickets.models import Status

ALLOWED_TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (Status.IN_PROGRESS,),
    Status.IN_PROGRESS: (Status.OPEN, Status.RESOLVED),
    Status.RESOLVED: (Status.CLOSED, Status.OPEN),
    Status.CLOSED: (Status.OPEN,),
}


def check_transition(current: str, target: str) -> None:
    """409 `invalid_transition` naming the allowed targets, unless current → target is a workflow move."""
    allowed = ALLOWED_TRANSITIONS[Status(current)]
    if Status(target) not in allowed:
        names = ", ".join(allowed)
        raise StateConflict(
            f"A ticket cannot move from {current} to {target}; from {current} it can move to: {names}.",
            code="invalid_transition",
            extra={"from": current, "to": target, "allowed": list(allowed)},
        )
