"""Matching embeddings: 1:1 verification and 1:K identification with open-set rejection."""

from facegate.match.decision import UNKNOWN, Decision, Identifier

__all__ = ["UNKNOWN", "Decision", "Identifier"]
