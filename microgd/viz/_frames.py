"""Matplotlib pieces behind fast race animations (imported only when one is saved).

- :class:`Backdrop` draws a pre-rendered picture of the static part of a figure
  (contours, axes, ticks, labels, legend), so a frame costs only its moving
  artists instead of a full redraw.
- :class:`GifWriter` is a matplotlib movie writer that writes a GIF with
  Pillow, as ``matplotlib.animation.PillowWriter`` does, but maps every frame
  to one shared palette: ``PillowWriter`` lets Pillow compute an adaptive
  palette per frame, which is most of the time of a race animation and makes
  the file several times larger.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.animation import AbstractMovieWriter
from matplotlib.artist import Artist
from PIL import Image

__all__ = ["Backdrop", "GifWriter"]


class Backdrop(Artist):
    """A figure-sized RGBA picture (rows from the top), drawn pixel for pixel under the rest.

    Straight to the renderer: a ``figimage`` would resample and mask the
    picture on every frame, which costs more than everything else drawn.
    """

    zorder = -1

    def __init__(self, picture: np.ndarray) -> None:
        super().__init__()
        self._rows = np.ascontiguousarray(picture[::-1])  # the renderer counts from the bottom

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        gc = renderer.new_gc()
        renderer.draw_image(gc, 0, 0, self._rows)
        gc.restore()


class GifWriter(AbstractMovieWriter):
    """Write an animation as a looping GIF with Pillow, all frames on one palette.

    The palette is the median-cut palette of the last frame (a race's last
    frame holds every colour its earlier frames use); frames are mapped to it
    without dithering, which keeps thin lines clean and the file small.
    """

    def setup(self, fig: Any, outfile: Any, dpi: float | None = None) -> None:
        super().setup(fig, outfile, dpi=dpi)
        self._frames: list[Image.Image] = []

    def grab_frame(self, **savefig_kwargs: Any) -> None:
        buf = io.BytesIO()
        self.fig.savefig(buf, **{**savefig_kwargs, "format": "rgba", "dpi": self.dpi})
        size = self.frame_size
        self._frames.append(Image.frombuffer("RGBA", size, buf.getvalue(), "raw", "RGBA", 0, 1)
                            .convert("RGB"))

    def finish(self) -> None:
        if not self._frames:
            return
        palette = self._frames[-1].quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in self._frames]
        frames[0].save(self.outfile, save_all=True, append_images=frames[1:],
                       duration=round(1000 / self.fps), loop=0)
