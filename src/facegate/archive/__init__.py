"""Photo archives: `facegate index` embeds every face of a large photo folder in parallel (Ray Data) into a
resumable index, a Parquet dataset or a table of the gallery database."""

from facegate.errors import FaceGateError


class ArchiveError(FaceGateError, ValueError):
    """The photo folder, the index output or the Ray cluster is unusable."""
