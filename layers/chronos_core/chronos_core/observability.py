"""One Powertools Logger for the whole package: JSON lines, correlation ids, appended keys."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "chronos")

logger = Logger(service=SERVICE_NAME)
