"""Liveness: an active head-turn challenge that a photo or screen held up to the camera cannot pass."""

from facegate.liveness.challenge import Challenge, ChallengeState, Direction, Limits
from facegate.liveness.geometry import nose_parallax, width_ratio, yaw

__all__ = ["Challenge", "ChallengeState", "Direction", "Limits", "nose_parallax", "width_ratio", "yaw"]
