"""Video files, webcams and streams: face tracking, annotated video output and live access events."""

# `facegate watch` gives up after this many attempts in a row that bring no frame (with its back-off, about 2.5 minutes)
DEFAULT_RETRIES = 10
