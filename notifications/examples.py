"""Example bodies for the OpenAPI schema of the notifications endpoints."""

NOTIFICATION = {
    "id": "7d6f1c1e-5b0a-4c43-9a39-0f3f3f0a9d61",
    "reason": "assigned",
    "event": {
        "id": "1e0b6c1a-2f0e-4f7e-8b1a-6f1d6c1b2a3c",
        "seq": 1042,
        "type": "ticket.updated",
        "project": "0b6f3c2e-8a1d-4c0e-9f3a-2d1e0c9b8a7f",
        "ticket": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
        "actor": {"id": "2c1d0e9f-8a7b-4c6d-9e5f-4a3b2c1d0e9f", "email": "ann@example.com", "full_name": "Ann"},
        "at": "2031-01-15T09:30:00.000000Z",
        "changes": {"assignee": [None, "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"]},
        "data": {"id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "key": "OPS-12", "title": "Printer on fire"},
    },
    "ticket": {"id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "key": "OPS-12", "title": "Printer on fire"},
    "project": "0b6f3c2e-8a1d-4c0e-9f3a-2d1e0c9b8a7f",
    "read_at": None,
    "created_at": "2031-01-15T09:30:00.000000Z",
}
