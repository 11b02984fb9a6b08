"""Photo archives: `facegate index` embeds every face of a large photo folder in parallel (Ray Data) into a
resumable index, a Parquet dataset or a table of the gallery database."""

from facegate.errors import FaceGateError

# what needs the scale extra (Ray, pyarrow), in the message when it is missing
NEEDS_SCALE = "indexing a photo archive (facegate.archive)"


class ArchiveError(FaceGateError, ValueError):
    """The photo folder, the index output or the Ray cluster is unusable."""
