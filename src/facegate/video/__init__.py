"""Video files, webcams and streams: face tracking, annotated video output and live access events."""
