"""Example bodies of the webhook endpoints, as the OpenAPI schema shows them."""

import json

WEBHOOK_ID = "3f0c1a52-8d1e-4c2b-9a47-5b6f1e2d7c90"
PROJECT_ID = "8a6e0f4b-2c1d-4e3f-9a8b-7c6d5e4f3a21"
DELIVERY_ID = "c2b7e1d4-5f6a-4b3c-8d9e-0f1a2b3c4d5e"
EVENT_ID = "0b9d8c7e-6f5a-4e3d-9c2b-1a0f9e8d7c6b"
SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

CREATE_ALL = {"url": "https://ci.example.com/hooks/hopla", "events": ["*"], "description": "CI"}
CREATE_SOME = {
    "url": "https://chat.example.com/hopla",
    "events": ["ticket.created", "comment.created"],
    "secret": SECRET,
}

WEBHOOK = {
    "id": WEBHOOK_ID,
    "project": PROJECT_ID,
    "url": "https://ci.example.com/hooks/hopla",
    "events": ["*"],
    "description": "CI",
    "active": True,
    "created_by": {"id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", "email": "ann@example.com", "full_name": "Ann"},
    "created_at": "2031-01-05T09:30:00Z",
    "updated_at": "2031-01-05T09:30:00Z",
    "disabled_reason": "",
    "last_success_at": "2031-01-06T14:02:11Z",
    "last_failure_at": None,
}
WEBHOOK_WITH_SECRET = {**WEBHOOK, "last_success_at": None, "secret": SECRET}

DELIVERY = {
    "id": DELIVERY_ID,
    "webhook": WEBHOOK_ID,
    "event_id": EVENT_ID,
    "event_type": "ticket.updated",
    "status": "failed",
    "attempts": 8,
    "next_attempt_at": None,
    "last_status_code": 503,
    "last_duration_ms": 112,
    "last_error": "The receiver answered 503.",
    "created_at": "2031-01-06T14:02:10Z",
    "delivered_at": None,
}
DELIVERY_DETAIL = {
    **DELIVERY,
    "request_body": json.dumps(
        {
            "type": "ticket.updated",
            "timestamp": "2031-01-07T02:02:10Z",
            "data": {
                "id": EVENT_ID,
                "seq": 412,
                "type": "ticket.updated",
                "project": PROJECT_ID,
                "ticket": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                "actor": {"id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", "email": "ann@example.com", "full_name": "Ann"},
                "at": "2031-01-06T14:02:10Z",
                "changes": {"status": ["open", "in_progress"]},
                "data": {"key": "OPS-12", "status": "in_progress"},
            },
        },
        separators=(",", ":"),
    ),
    "response": {
        "status_code": 503,
        "headers": {"content-type": "text/plain", "retry-after": "30"},
        "body": "Service Unavailable",
    },
}
PING_DELIVERY = {
    **DELIVERY,
    "event_id": "7e6d5c4b-3a2f-4e1d-8c0b-9a8f7e6d5c4b",
    "event_type": "webhook.ping",
    "status": "pending",
    "attempts": 0,
    "next_attempt_at": "2031-01-07T09:00:00Z",
    "last_status_code": None,
    "last_duration_ms": None,
    "last_error": "",
    "created_at": "2031-01-07T09:00:00Z",
    "request_body": "",
    "response": None,
}
REDELIVERY = {**DELIVERY_DETAIL, "status": "pending", "next_attempt_at": "2031-01-07T09:00:00Z"}
