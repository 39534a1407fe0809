"""hopla: a self-hosted ticket tracker with a REST API, live dashboards and image attachments."""
