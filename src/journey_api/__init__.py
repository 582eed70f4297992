"""The HTTP API: GET /api/v1/customer-journey-details."""
