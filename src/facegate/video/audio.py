"""Carry the source's sound into the annotated video: OpenCV writes pictures only, so PyAV (FFmpeg) remuxes the
written video with the source's audio packets, copied as they are (no re-encoding, no quality loss)."""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from facegate.extras import optional_imports

with optional_imports("video", "copying a video's sound (facegate.video.audio)"):
    import av

log = logging.getLogger(__name__)


def _timed(packets: Iterator[av.Packet], targets: dict[int, av.stream.Stream],
           shift: Fraction = Fraction(0)) -> Iterator[tuple[Fraction, int, av.Packet]]:
    """(time in seconds, tie-breaker, packet) for the packets that carry data, each readdressed to its output
    stream (`targets`, by input stream index) and its timestamps moved back by `shift` seconds."""
    for n, packet in enumerate(packets):
        if packet.dts is None or packet.size == 0:
            continue
        if shift:
            offset = round(shift / packet.time_base)
            packet.pts = None if packet.pts is None else packet.pts - offset
            packet.dts -= offset
            if packet.dts < 0:  # sound from before the first picture has nothing to play under
                continue
        time = Fraction(packet.dts) * packet.time_base
        packet.stream = targets[packet.stream.index]
        yield time, n, packet


def add_source_audio(source: Path, video: Path, output: Path) -> bool:
    """Write `output`: the pictures of `video` with the audio of `source`, both copied. Returns False (and writes
    nothing) when the source has no audio or the output container cannot hold its codec."""
    try:
        with av.open(str(source)) as src:
            if not src.streams.audio:
                return False
            start = src.streams.video[0].start_time if src.streams.video else None
            first_picture = Fraction(start) * src.streams.video[0].time_base if start is not None else Fraction(0)
            with av.open(str(video)) as pictures, av.open(str(output), "w") as out:
                picture = pictures.streams.video[0]
                video_out = {picture.index: out.add_stream_from_template(picture)}
                audio_out = {s.index: out.add_stream_from_template(s) for s in src.streams.audio}
                merged = heapq.merge(_timed(pictures.demux(picture), video_out),
                                     _timed(src.demux(*src.streams.audio), audio_out, first_picture),
                                     key=lambda t: t[:2])
                for _, _, packet in merged:
                    out.mux(packet)
        return True
    except (av.FFmpegError, ValueError) as exc:
        log.warning("the annotated video is written without sound: %s", exc)
        output.unlink(missing_ok=True)
        return False


def keep_audio(source: Path, written: Path, output: Path) -> bool:
    """Move `written` (pictures only) to `output`, with the source's sound added where it has any."""
    with_sound = add_source_audio(source, written, output)
    if with_sound:
        written.unlink()
    else:
        os.replace(written, output)
    return with_sound
