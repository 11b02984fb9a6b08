"""Write the annotated video with PyAV in one pass: H.264 pictures (VP9 in .webm) that browsers play, at about the
source's size, with the source's sound (audio packets copied as they are, or re-encoded where the output container
cannot hold the source's codec). Frames are written straight into the user's file, so a run that is interrupted
or fails leaves a playable video of the frames done so far."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import cast

import cv2
import numpy as np

from facegate.errors import VideoError
from facegate.extras import optional_imports

with optional_imports("video", "writing annotated videos (facegate.video.writer)"):
    import av
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

H264, VP9 = "libx264", "libvpx-vp9"
ENCODERS = {".mp4": H264, ".m4v": H264, ".mov": H264, ".mkv": H264, ".webm": VP9}  # what browsers and players take
CODEC_NAMES = {H264: "H.264", VP9: "VP9"}
# Constant quality (x264's default CRF; libvpx's real-time mode), fast enough to keep up with recognition.
QUALITY = {
    H264: {"crf": "23", "preset": "veryfast"},
    VP9: {"crf": "32", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
}
PEAK = 1.5  # the bit rate may reach this multiple of the source's video bit rate, no more
FASTSTART = {".mp4", ".m4v", ".mov"}  # index at the front: a browser starts playing before the whole file is in


def check_output(path: Path) -> str:
    """The encoder for an output video path; VideoError for an unknown suffix, a missing folder, or an encoder this
    PyAV build lacks."""
    encoder = ENCODERS.get(path.suffix.lower())
    if encoder is None:
        raise VideoError(f"{path}: unsupported output type; use one of {', '.join(ENCODERS)}")
    if not path.parent.is_dir():
        raise VideoError(f"{path.parent}: output folder does not exist")
    if not _has_encoder(encoder):
        others = [s for s, e in ENCODERS.items() if e != encoder and _has_encoder(e)]
        raise VideoError(
            f"{path}: this PyAV build has no {CODEC_NAMES[encoder]} encoder ({encoder})"
            + (f"; write {' or '.join(others)} instead" if others else "")
        )
    return encoder


def _has_encoder(name: str) -> bool:
    """Whether this PyAV build (its FFmpeg) can encode with `name`."""
    try:
        av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


def rate_control(encoder: str, source_bit_rate: int | None) -> dict[str, str]:
    """Encoder options: constant quality, capped at PEAK × the source's video bit rate where it is known, so the
    output stays near the source's size even where constant quality would spend more (a coarse, noisy source)."""
    options = dict(QUALITY[encoder])
    if source_bit_rate:
        cap = int(PEAK * source_bit_rate)
        options |= {"maxrate": str(cap), "bufsize": str(2 * cap)} if encoder == H264 else {"b": str(cap)}
    elif encoder == VP9:
        options["b"] = "0"  # libvpx: CRF alone is constant quality only without a target bit rate
    return options


def _video_bit_rate(source: av.container.InputContainer) -> int | None:
    """The source's video bit rate: the stream's own, else the file's minus its audio; None when neither is known."""
    video = source.streams.video[0] if source.streams.video else None
    if video is not None and video.bit_rate:
        return int(video.bit_rate)
    if source.bit_rate:
        return max(int(source.bit_rate) - sum(int(s.bit_rate or 0) for s in source.streams.audio), 0) or None
    return None


def _first_picture(source: av.container.InputContainer) -> Fraction:
    """When the source's first picture is shown (seconds): sound from before it has nothing to play under."""
    video = source.streams.video[0] if source.streams.video else None
    if video is None or video.start_time is None or video.time_base is None:
        return Fraction(0)
    return Fraction(video.start_time) * video.time_base


class Sound:
    """The source's audio streams, fed into the output as the pictures advance: copied packet for packet where the
    output container holds the codec, else decoded and re-encoded with the container's own audio codec."""

    def __init__(self, source: av.container.InputContainer, out: av.container.OutputContainer) -> None:
        self._lead = _first_picture(source)
        self._copy: dict[int, av.stream.Stream] = {}
        self._encode: dict[int, AudioStream] = {}
        for stream in source.streams.audio:
            if stream.codec_context.name in out.supported_codecs:
                self._copy[stream.index] = out.add_stream_from_template(stream)
            else:
                self._encode[stream.index] = self._reencoder(stream, out)
        self._out = out
        self._packets: Iterator[av.Packet] = source.demux(*source.streams.audio)
        self._next: av.Packet | None = None

    @staticmethod
    def _reencoder(stream: AudioStream, out: av.container.OutputContainer) -> AudioStream:
        """An output stream in the container's own audio codec, at the source's sample rate where it takes it."""
        codec = av.codec.Codec(out.default_audio_codec, "w")
        rates = codec.audio_rates
        rate = stream.rate if not rates or stream.rate in rates else max(rates)
        return cast(AudioStream, out.add_stream(codec.name, rate=rate, layout=stream.layout.name))

    @property
    def streams(self) -> int:
        """How many of the source's audio streams go into the output."""
        return len(self._copy) + len(self._encode)

    def _time(self, packet: av.Packet) -> Fraction:
        """The packet's time in the output (seconds after the source's first picture)."""
        assert packet.dts is not None and packet.time_base is not None  # until() takes only packets with both
        return Fraction(packet.dts) * packet.time_base - self._lead

    def until(self, end: Fraction) -> None:
        """Write the source's sound up to `end` seconds of output."""
        while True:
            if self._next is None:
                self._next = next((p for p in self._packets if p.dts is not None and p.size), None)
                if self._next is None:
                    return
            if self._time(self._next) >= end:
                return
            packet, self._next = self._next, None
            if self._time(packet) >= 0:  # sound before the first picture is left out
                self._write(packet)

    def _write(self, packet: av.Packet) -> None:
        """Copy one packet into the output, or re-encode its sound, moved back by the lead."""
        assert packet.dts is not None and packet.time_base is not None
        shift = round(self._lead / packet.time_base)
        index = packet.stream.index
        if index in self._copy:
            packet.pts = None if packet.pts is None else packet.pts - shift
            packet.dts -= shift
            packet.stream = self._copy[index]
            self._out.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None if frame.pts is None else frame.pts - shift
            self._out.mux(self._encode[index].encode(cast(AudioFrame, frame)))

    def flush(self) -> None:
        """Write what the re-encoders still hold."""
        for stream in self._encode.values():
            self._out.mux(stream.encode(None))


def _picture(rgb: np.ndarray) -> av.VideoFrame:
    """An RGB frame as a 4:2:0 picture (BT.601, limited range, as swscale makes it but 5× faster); an odd last row
    or column is left out."""
    even = rgb[: rgb.shape[0] & ~1, : rgb.shape[1] & ~1]
    yuv = np.asarray(cv2.cvtColor(even, cv2.COLOR_RGB2YUV_I420), np.uint8)  # typed for PyAV (OpenCV's stubs say Mat)
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


class VideoWriter:
    """RGB frames in, by source frame index (gaps where damaged frames were skipped keep the timing); `close()`
    finishes the file. The source's sound goes in alongside the pictures (source None: pictures only, no cap)."""

    def __init__(self, path: Path, source: Path | None, fps: float, width: int, height: int) -> None:
        self.path = Path(path)
        encoder = check_output(self.path)
        self.codec = CODEC_NAMES[encoder]
        self._rate = Fraction(fps).limit_denominator(1001)
        self._end = Fraction(0)
        self._closed = False
        try:
            self._source = None if source is None else av.open(str(source))
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{source}: PyAV cannot read it for its sound and bit rate: {exc}") from None
        try:
            options = {"movflags": "+faststart"} if self.path.suffix.lower() in FASTSTART else {}
            self._out = av.open(str(self.path), "w", options=options)
            bit_rate = None if self._source is None else _video_bit_rate(self._source)
            self._video = cast(
                VideoStream, self._out.add_stream(encoder, rate=self._rate, options=rate_control(encoder, bit_rate))
            )
            self._video.width, self._video.height = width & ~1, height & ~1  # 4:2:0 takes even sides only
            self._video.pix_fmt = "yuv420p"  # what browsers decode
            self._sound: Sound | None = self._open_sound()
            self._out.start_encoding()  # opens the file and the encoders: problems show here, before any work
        except (av.FFmpegError, OSError) as exc:
            self._close_source()
            raise VideoError(f"{self.path}: cannot write the video there: {exc}") from None

    def _open_sound(self) -> Sound | None:
        """The source's sound, or None: no source, no audio, or audio that cannot be set up (with a warning)."""
        if self._source is None:
            return None
        try:
            sound = Sound(self._source, self._out)
        except (av.FFmpegError, ValueError) as exc:
            log.warning("the annotated video is written without sound: %s", exc)
            return None
        return sound if sound.streams else None

    @property
    def sound(self) -> bool:
        """Whether the source's sound is going into the output."""
        return self._sound is not None

    def write(self, index: int, rgb: np.ndarray) -> None:
        """Encode the picture shown at source frame `index`, and the sound up to the end of it."""
        frame = _picture(rgb)
        frame.pts = index
        self._encode(frame)
        self._end = (index + 1) / self._rate
        self._add_sound()

    def _encode(self, frame: av.VideoFrame | None) -> None:
        """Encode one picture (None: flush the encoder); FFmpeg's errors become a VideoError naming the output."""
        try:
            self._out.mux(self._video.encode(frame))
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: writing the video failed: {exc}") from None

    def _add_sound(self, flush: bool = False) -> None:
        """The source's sound up to the last picture written; on a sound error the rest goes without it."""
        if self._sound is None:
            return
        try:
            self._sound.until(self._end)
            if flush:
                self._sound.flush()
        except (av.FFmpegError, ValueError) as exc:
            log.warning("the rest of the annotated video is written without sound: %s", exc)
            self._sound = None

    def close(self) -> None:
        """Flush the encoders and finish the file (playable from here on); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._encode(None)
            self._add_sound(flush=True)
        finally:
            self._close_source()
            try:
                self._out.close()
            except (av.FFmpegError, OSError) as exc:
                raise VideoError(f"{self.path}: finishing the video failed: {exc}") from None

    def _close_source(self) -> None:
        """Close the source PyAV opened for its sound (nothing to do without one)."""
        if self._source is not None:
            self._source.close()
