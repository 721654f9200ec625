"""Optimizer races as pictures: an animation, and the still of its last frame.

:func:`animate` turns a :class:`microgd.Race` into an animation: the
function's contours (or, for a model, its loss on the plane of two
directions through the parameters), each optimizer's trail and head moving
step by step, a step counter, and beside it the loss curves growing.  It is
saved as a GIF with matplotlib's Pillow writer or an MP4 with its FFmpeg
writer, and shows in Jupyter as an inline HTML animation (``to_jshtml``).
:func:`plot_race` draws the last frame as a Figure.

Frames are subsampled (at most ``frames``, default 100, spread evenly over
the steps) and drawn small (``dpi`` 80), so four racers of 200 steps render
in seconds to a GIF of about a megabyte.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.viz.drawing import levels_of
from microgd.viz.landscapes import _evaluate
from microgd.viz.style import new_figure, save_figure, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from microgd.race import Race

__all__ = ["RaceAnimation", "animate", "plot_race"]

# Distinct from each other and visible on viridis contours and on white (the last one
# only on contours).
RACE_COLORS = ("#e03131", "#212529", "#ff922b", "#4dabf7", "#ae3ec9", "#868e96", "#f8f9fa")
_ANIMATION_FORMATS = (".gif", ".mp4", ".html")
_STILL_FORMATS = (".png", ".svg", ".pdf")


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"animate: {name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _ext(path: str | os.PathLike, allowed: Sequence[str], what: str) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in allowed:
        raise ValueError(f"{what}: cannot write {os.fspath(path)!r}: use a "
                         f"{', '.join(allowed)} extension")
    return ext


def _ffmpeg_writer(fps: int) -> Any:
    from matplotlib import animation, rcParams

    if not animation.writers.is_available("ffmpeg"):
        raise RuntimeError(
            "animate: saving an .mp4 needs the ffmpeg program, which was not found (looked "
            f"for {rcParams['animation.ffmpeg_path']!r}); install it (e.g. apt-get install "
            "ffmpeg, or conda install ffmpeg) or save a .gif instead")
    return animation.FFMpegWriter(fps=fps)


def _frame_steps(last: int, frames: int) -> list[int]:
    """At most ``frames`` steps from 0 to ``last``, evenly spread, both ends included."""
    n = min(frames, last + 1)
    if n == 1:
        return [last]
    return [int(s) for s in np.unique(np.rint(np.linspace(0, last, n)).astype(int))]


def _background(race: Race, directions: Any, center: Any, bounds: list[tuple[float, float]],
                resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = np.linspace(bounds[0][0], bounds[0][1], resolution)
    ys = np.linspace(bounds[1][0], bounds[1][1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    if directions is None:  # a function of a point in the plane: try it on the whole grid
        z = _evaluate(race.f, np.stack([gx.ravel(), gy.ravel()]))
    else:
        c, u, v = race.plane(directions, center)
        z = race.loss_at(c + gx.reshape(-1, 1) * u + gy.reshape(-1, 1) * v)
    return xs, ys, z.reshape(gx.shape)


_PANELS = ("loss", "distance", None)


def _curves(race: Race, panel: str) -> tuple[dict[str, np.ndarray], str, bool]:
    """The side panel's series, its label, and whether a log axis fits them."""
    if panel == "distance":
        if race.minimum is None:
            raise ValueError("animate: panel='distance' needs the race's minimum; pass "
                             "minimum= to mg.race")
        series, label, known = race.errors("distance"), "distance to the minimum", True
    elif race.f_star is not None:
        series, label, known = race.errors("loss"), "f \u2212 f* (at the minimum)", True
    else:
        series, label, known = {n: race.losses[n] for n in race.names}, "loss", False
    finite = np.concatenate([s[np.isfinite(s)] for s in series.values()])
    # Errors from a known minimum are drawn on a log axis (a zero, reached in rounding, is a
    # gap); a plain loss only when it is never negative.
    log = finite.size > 0 and float(finite.max()) > 0 and (known or float(finite.min()) >= 0)
    return series, label, log


class _Moving:
    """The artists that change from frame to frame, on one figure's axes."""

    def __init__(self, race: Race, ax: Axes, ax_loss: Axes | None,
                 coords: dict[str, np.ndarray], series: dict[str, np.ndarray],
                 last: int) -> None:
        from matplotlib import patheffects

        self.race, self.coords, self.series, self.last = race, coords, series, last
        outline = [patheffects.Stroke(linewidth=3.2, foreground="white", alpha=0.7),
                   patheffects.Normal()]
        self.trail: dict[str, Any] = {}
        self.head: dict[str, Any] = {}
        self.curve: dict[str, Any] = {}
        for i, name in enumerate(race.names):
            color = RACE_COLORS[i % len(RACE_COLORS)]
            label = name + (f" (diverged, step {race.diverged[name]})"
                            if race.diverged[name] is not None else "")
            (self.trail[name],) = ax.plot([], [], "-", color=color, linewidth=1.6,
                                          path_effects=outline, label=label,
                                          gid=f"trail:{name}", zorder=5)
            (self.head[name],) = ax.plot([], [], "o", color=color, markersize=7,
                                         markeredgecolor="white", markeredgewidth=1.0,
                                         gid=f"head:{name}", zorder=6, label="_head")
            if ax_loss is not None:
                (self.curve[name],) = ax_loss.plot([], [], color=color, linewidth=1.6,
                                                   label=label, gid=f"curve:{name}")
        self.counter = ax.text(0.03, 0.96, "", transform=ax.transAxes, fontsize=9, va="top",
                               ha="left", zorder=7, bbox={"boxstyle": "round", "fc": "white",
                                                          "alpha": 0.85, "lw": 0})
        self.now = (ax_loss.axvline(0, color="#adb5bd", linewidth=0.8, zorder=1)
                    if ax_loss is not None else None)

    def show(self, step: int | None) -> list[Any]:
        """Draw the race at ``step`` (None: nothing, for the static background)."""
        changed: list[Any] = []
        for name in self.race.names:
            xy = self.coords[name]
            t = -1 if step is None else min(step, len(xy) - 1)
            self.trail[name].set_data(xy[: t + 1, 0], xy[: t + 1, 1])
            self.head[name].set_data(xy[t : t + 1, 0], xy[t : t + 1, 1])
            stopped = (step is not None and self.race.diverged[name] is not None
                       and step >= len(xy) - 1)
            self.head[name].set_marker("X" if stopped else "o")
            changed += [self.trail[name], self.head[name]]
            if name in self.curve:
                y = self.series[name]
                k = -1 if step is None else min(step, len(y) - 1)
                self.curve[name].set_data(np.arange(k + 1), y[: k + 1])
                changed.append(self.curve[name])
        self.counter.set_text("" if step is None else f"step {step} / {self.last}")
        self.counter.set_visible(step is not None)
        changed.append(self.counter)
        if self.now is not None:
            self.now.set_xdata([step or 0, step or 0])
            self.now.set_visible(step is not None)
            changed.append(self.now)
        return changed


class RaceAnimation:
    """An animated race: a matplotlib Figure and the frames to play on it.

    Made by :func:`animate`.  :meth:`save` writes a ``.gif``, ``.mp4`` or
    ``.html`` animation (or a ``.png``/``.svg``/``.pdf`` still of the last
    frame); in Jupyter it shows as an inline HTML animation when it is a
    cell's last value.

    Attributes
    ----------
    race : Race
    figure : matplotlib.figure.Figure
        The picture at :meth:`draw_frame`'s frame (the last one to begin with).
    frame_steps : list of int
        The step each frame shows, from 0 (the start) to the longest path's end.
    fps : int
        Frames per second.
    dpi : int
        Resolution of the saved frames.
    """

    def __init__(self, race: Race, figure: Figure, axes: tuple[Axes, Axes | None],
                 moving: _Moving, frame_steps: list[int], fps: int, dpi: int) -> None:
        self.race = race
        self.figure = figure
        self.frame_steps = frame_steps
        self.fps = fps
        self.dpi = dpi
        self._axes = axes
        self._moving = moving
        self._animation: FuncAnimation | None = None
        self._html: str | None = None

    def __repr__(self) -> str:
        return (f"RaceAnimation({', '.join(self.race.names)}; {len(self.frame_steps)} frames "
                f"at {self.fps} fps)")

    def draw_frame(self, i: int) -> list[Any]:
        """Set :attr:`figure` to frame ``i`` (negative counts from the end); returns the
        artists that changed."""
        return self._moving.show(self.frame_steps[i])

    def _movie(self) -> tuple[Figure, _Moving]:
        """A figure that draws frames fast: the static picture as one image, the moving
        artists on bare axes at the same places.

        Saving an animation redraws the whole figure for every frame, and the
        contours, ticks and labels are most of that work: drawn once here.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from microgd.viz._frames import Backdrop

        fig = self.figure
        old_dpi, old_canvas = fig.dpi, fig.canvas
        self._moving.show(None)
        try:
            fig.set_dpi(self.dpi)
            agg = FigureCanvasAgg(fig)
            agg.draw()
            background = np.array(agg.buffer_rgba())
        finally:
            fig.set_canvas(old_canvas)
            fig.set_dpi(old_dpi)
            self.draw_frame(-1)
        # A plain canvas: with an Agg one the animation's draw_idle would render every
        # frame a second time before saving it.
        width, height = (float(x) for x in fig.get_size_inches())
        movie = Figure(figsize=(width, height), dpi=self.dpi)
        movie.add_artist(Backdrop(background))
        def bare(a: Axes) -> Axes:
            """Axes at ``a``'s place with its limits and scales, drawing nothing of their own."""
            b = movie.add_axes(tuple(a.get_position().bounds))
            b.set_xscale(a.get_xscale())
            b.set_yscale(a.get_yscale())
            b.set(xlim=a.get_xlim(), ylim=a.get_ylim())
            b.set_axis_off()
            return b

        ax, ax_loss = self._axes
        m = self._moving
        return movie, _Moving(self.race, bare(ax), None if ax_loss is None else bare(ax_loss),
                              m.coords, m.series, m.last)

    @property
    def animation(self) -> FuncAnimation:
        """The matplotlib ``FuncAnimation`` that plays the frames (made when first needed)."""
        if self._animation is None:
            from matplotlib.animation import FuncAnimation

            movie, moving = self._movie()
            steps = self.frame_steps
            self._animation = FuncAnimation(
                movie, lambda i: moving.show(steps[i]), frames=len(steps),
                init_func=lambda: moving.show(steps[0]), interval=1000 / self.fps,
                repeat=True, cache_frame_data=False)
        return self._animation

    def save(self, path: str | os.PathLike) -> None:
        """Write the animation (``.gif``, ``.mp4``, ``.html``) or the last frame
        (``.png``, ``.svg``, ``.pdf``).

        A GIF is written with matplotlib's Pillow writer; an MP4 needs the
        ``ffmpeg`` program (a RuntimeError says so when it is missing).
        """
        ext = _ext(path, _ANIMATION_FORMATS + _STILL_FORMATS, "RaceAnimation.save")
        if ext in _STILL_FORMATS:
            self.draw_frame(-1)
            save_figure(self.figure, path)
            return
        if ext == ".html":
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(self.to_html())
            return
        from microgd.viz._frames import GifWriter

        writer = GifWriter(fps=self.fps) if ext == ".gif" else _ffmpeg_writer(self.fps)
        self.animation.save(os.fspath(path), writer=writer, dpi=self.dpi)

    def to_html(self, player: bool = True) -> str:
        """The animation as self-contained HTML.

        Parameters
        ----------
        player : bool, default True
            True: matplotlib's JavaScript player (``FuncAnimation.to_jshtml``:
            play, pause, step, a slider), with JPEG frames (a few MB for 100
            frames).  False: the GIF in an ``<img>`` tag, several times
            smaller, playing on its own.
        """
        if not player:
            with tempfile.TemporaryDirectory() as tmp:
                gif = os.path.join(tmp, "race.gif")
                self.save(gif)
                with open(gif, "rb") as fh:
                    data = base64.b64encode(fh.read()).decode("ascii")
            return f'<img src="data:image/gif;base64,{data}" alt="{html.escape(repr(self))}">'
        if self._html is None:
            from matplotlib import rc_context

            # JPEG frames: PNG ones make the page about three times larger.
            with rc_context({"savefig.dpi": self.dpi, "animation.frame_format": "jpeg"}):
                self._html = self.animation.to_jshtml(fps=self.fps, default_mode="loop")
        return self._html

    def _repr_html_(self) -> str:
        return self.to_html()


def _draw(race: Race, directions: Any, center: Any, bounds: Any, resolution: int | None,
          panel: str | None, title: str | None,
          last: int) -> tuple[Figure, tuple[Axes, Axes | None], _Moving]:
    from matplotlib.colors import BoundaryNorm

    coords = race.project(directions, center)
    if bounds is None:
        box = race.bounds(directions=directions, center=center)
    else:
        b = np.asarray(bounds, dtype=np.float64)
        if b.shape != (2, 2) or not np.all(b[:, 1] > b[:, 0]):
            raise ValueError(f"animate: bounds must be [(xlo, xhi), (ylo, yhi)] with lo < hi, "
                             f"got {bounds!r}")
        box = [(float(b[0, 0]), float(b[0, 1])), (float(b[1, 0]), float(b[1, 1]))]
    res = resolution or (80 if directions is None else 25)
    xs, ys, z = _background(race, directions, center, box, _check_int("resolution", res, 2))

    fig = new_figure((9.2, 4.2) if panel else (5.4, 4.6))
    if panel:
        ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.15, 1])
    else:
        ax, ax_loss = fig.add_subplot(), None
    zm = np.ma.masked_invalid(z)
    if zm.count():
        levels = levels_of(np.asarray(zm.filled(np.nan)), n=20)
        ax.contourf(xs, ys, zm, levels=levels, cmap="viridis",
                    norm=BoundaryNorm(levels, ncolors=256), extend="max")
        ax.contour(xs, ys, zm, levels=levels, colors="white", linewidths=0.4, alpha=0.4)
    start = next(iter(coords.values()))[0]
    ax.plot([start[0]], [start[1]], "o", color="white", markersize=9, markeredgecolor="#212529",
            markeredgewidth=1.2, zorder=4, gid="start", label="_start")
    if race.minimum is not None:
        ((mx, my),) = race._coordinates(race.minimum[None, :], directions, center)
        ax.plot([mx], [my], "*", color="white", markersize=13, markeredgecolor="#212529",
                markeredgewidth=0.8, zorder=4, gid="minimum", label="_minimum")
    series, ylabel, log = _curves(race, panel or "loss")
    if log:
        series = {n: np.where(y > 0, y, np.nan) for n, y in series.items()}
    moving = _Moving(race, ax, ax_loss, coords, series, last)
    ax.set(xlim=box[0], ylim=box[1])
    if directions is None:
        ax.set(xlabel="x", ylabel="y")
    else:
        ax.set(xlabel="\u03b1 (direction 1)", ylabel="\u03b2 (direction 2)")
    marks = "\u25cb start" + (", \u2605 minimum" if race.minimum is not None else "")
    ax.set_title(title or f"Optimizer race ({marks})", fontsize=11)
    if ax_loss is not None:
        _panel_axes(ax_loss, series, ylabel, log)
        ax_loss.legend(frameon=False, fontsize=8, loc="best")
    else:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
    return fig, (ax, ax_loss), moving


def _panel_axes(ax: Axes, series: dict[str, np.ndarray], label: str, log: bool) -> None:
    last = max(len(s) for s in series.values()) - 1
    finite = np.concatenate([s[np.isfinite(s)] for s in series.values()])
    ax.set_xlim(0, max(last, 1))
    if log:
        ax.set_yscale("log")
        hi = float(finite.max())
        lo = max(float(finite.min()), hi * 1e-18)
        ax.set_ylim(lo / 2, hi * 2)
    elif finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
    ax.set(xlabel="step", ylabel=label + (" (log scale)" if log else ""))
    ax.set_title(("Distance to the minimum" if label.startswith("distance") else "Loss")
                 + " per step", fontsize=11)
    style_axes(ax)


def _prepare(race: Race, directions: Any, center: Any, bounds: Any, frames: int,
             resolution: int | None, panel: str | None, title: str | None, fps: int,
             dpi: int) -> RaceAnimation:
    if not (hasattr(race, "paths") and hasattr(race, "project")):
        raise TypeError(f"animate: expected a Race (from mg.race), got {type(race).__name__}")
    frames = _check_int("frames", frames, 1)
    fps = _check_int("fps", fps, 1)
    dpi = _check_int("dpi", dpi, 10)
    last = max(len(p) for p in race.paths.values()) - 1
    if panel not in _PANELS:
        raise ValueError(f"animate: panel must be one of {_PANELS}, got {panel!r}")
    fig, axes, moving = _draw(race, directions, center, bounds, resolution, panel, title,
                              last)
    anim = RaceAnimation(race, fig, axes, moving, _frame_steps(last, frames), fps, dpi)
    # Lay the figure out once, on the last frame (the widest texts), then freeze it:
    # frames must not move, and the fast frames (RaceAnimation._movie) copy the axes' places.
    anim.draw_frame(-1)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return anim


def animate(race: Race, path: str | os.PathLike | None = None, directions: Any = None,
            center: Any = None, bounds: Any = None, frames: int = 100, fps: int = 20,
            resolution: int | None = None, panel: str | None = "loss", dpi: int = 80,
            title: str | None = None) -> RaceAnimation:
    """Animate a race: each optimizer's trail and head moving over the function's contours.

    Parameters
    ----------
    race : Race
        From :func:`microgd.race`.
    path : str or os.PathLike, optional
        Also write the animation there: ``.gif`` (matplotlib's Pillow
        writer), ``.mp4`` (needs ``ffmpeg``) or ``.html``.
    directions : (d1, d2), optional
        Two directions spanning the plane to draw on, each shaped like the
        parameters (a list of arrays) or a flat vector; needed unless the race
        is in two dimensions.  The paths are projected on the plane
        (:meth:`Race.project`) and the background is the loss on it,
        ``f(center + alpha * d1 + beta * d2)``.
    center : optional
        The plane's origin (default: the start), shaped like the directions.
    bounds : [(xlo, xhi), (ylo, yhi)], optional
        The box drawn (default :meth:`Race.bounds`).
    frames : int, default 100
        At most this many frames, spread evenly over the steps (start and
        end included).
    fps : int, default 20
        Frames per second.
    resolution : int, optional
        Grid points per axis of the background: default 80 for a function of
        a point, 25 on a plane through a model (each point is a model loss).
    panel : {'loss', 'distance', None}, default 'loss'
        Curves beside the contours, growing with the frames: ``'loss'`` (``f -
        f*`` on a log axis when the race knows its minimum), ``'distance'``
        (to the minimum, log axis), None for the contours alone.
    dpi : int, default 80
        Resolution of the saved frames.
    title : str, optional

    Returns
    -------
    RaceAnimation
        ``.save(path)``, ``.to_html()``, ``.figure``, ``.frame_steps``; shows
        as an inline animation in Jupyter.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> bowl = lambda p: p[0] ** 2 + 4 * p[1] ** 2
    >>> r = mg.race(bowl, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, [1.0, 1.0], steps=300)
    >>> anim = mg.viz.animate(r, frames=50)
    >>> len(anim.frame_steps), anim.frame_steps[:3], anim.frame_steps[-1]
    (50, [0, 6, 12], 300)
    """
    anim = _prepare(race, directions, center, bounds, frames, resolution, panel, title,
                    fps, dpi)
    if path is not None:
        _ext(path, _ANIMATION_FORMATS, "animate")
        anim.save(path)
    return anim


def plot_race(race: Race, path: str | os.PathLike | None = None, directions: Any = None,
              center: Any = None, bounds: Any = None, resolution: int | None = None,
              panel: str | None = "loss", title: str | None = None) -> Figure:
    """The end of a race as a still picture: full trails over the contours, and the losses.

    The last frame of :func:`animate` (same parameters); ``path`` may be a
    ``.png``, ``.svg`` or ``.pdf`` (written at 150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> saddle = lambda p: p[0] ** 2 - p[1] ** 2
    >>> r = mg.race(saddle, {"GD": lambda ps: optim.GD(ps, lr=0.1),
    ...                      "Adam": lambda ps: optim.Adam(ps, lr=0.1)}, [1.0, 0.01], steps=20)
    >>> fig = mg.viz.plot_race(r)
    >>> [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    ['GD', 'Adam']
    """
    if path is not None:
        _ext(path, _STILL_FORMATS, "plot_race")
    anim = _prepare(race, directions, center, bounds, 1, resolution, panel, title, 1, 80)
    save_figure(anim.figure, path)
    return anim.figure
