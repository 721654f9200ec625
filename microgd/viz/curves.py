"""Loss curves: one or several training runs, raw and EMA-smoothed (:func:`plot_history`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.viz.style import COLORS, named, new_figure, save_figure, style_axes, with_gaps

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_history"]

_SERIES_LABEL = {"step_loss": "loss (per step)", "epoch_loss": "loss (epoch mean)",
                 "grad_norm": "gradient norm", "lr": "learning rate"}


def _runs(histories: Any, labels: Sequence[str] | None, series: str) -> list[tuple[str, Any]]:
    if hasattr(histories, series):  # a single History
        histories = [histories]
    runs = named(histories, "run")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(runs):
            raise ValueError(f"plot_history: {len(labels)} labels for {len(runs)} histories")
        runs = [(str(lab), h) for lab, (_, h) in zip(labels, runs, strict=True)]
    if not runs:
        raise ValueError("plot_history: no histories given")
    if len(runs) == 1 and labels is None and not isinstance(histories, Mapping):
        runs = [("loss" if "loss" in series else series, runs[0][1])]
    return runs


def _steps_per_epoch(hist: Any) -> float:
    n_epochs, n_steps = len(hist.epoch_loss), len(hist.step_loss)
    return n_steps / n_epochs if n_epochs and n_steps else 1.0


def _x_values(hist: Any, series: str, x: str, n: int) -> np.ndarray:
    steps = np.arange(1, n + 1, dtype=np.float64)
    per_epoch = _steps_per_epoch(hist)
    if series == "epoch_loss":
        return steps if x == "epoch" else steps * per_epoch
    return steps / per_epoch if x == "epoch" else steps


def plot_history(histories: Any, labels: Sequence[str] | None = None, beta: float = 0.9,
                 log: bool = False, path: str | os.PathLike | None = None,
                 series: str = "step_loss", x: str = "step") -> Figure:
    """Loss curves of one or several training runs, raw and EMA-smoothed.

    Each run is drawn twice in one colour: the raw series as a thin,
    translucent line and its bias-corrected exponential moving average
    (``hist.smoothed(beta, series)``) as a thick line, which is the one in the
    legend.

    Parameters
    ----------
    histories : History, list of History, or dict of label to History
        Anything with the fields ``step_loss``, ``epoch_loss``, ``grad_norm``,
        ``lr`` and a method ``smoothed(beta, series)``.
    labels : list of str, optional
        Legend labels (default: the dict's keys, or "run 1", "run 2", ...).
    beta : float, default 0.9
        Smoothing factor of the EMA, in [0, 1); 0 is no smoothing.
    log : bool, default False
        Logarithmic y axis (symmetric-log when a value is not positive).
    path : str or os.PathLike, optional
        Write the figure there (``.png``, ``.svg`` or ``.pdf``).
    series : {'step_loss', 'epoch_loss', 'grad_norm', 'lr'} or a monitor's name
        A monitor's name (``'sharpness'``, ``'eigenvalues'``, ...: a key of
        ``hist.monitors``) draws its measurements against the step, with the
        optimizer's stability threshold (``2/lr`` for GD, recorded by
        :class:`~microgd.monitors.Sharpness`) as a dashed line; a spectrum
        draws one line per eigenvalue.  Monitors are not smoothed.
    x : {'step', 'epoch'}, default 'step'
        The x axis.  With ``'epoch'`` per-step series are placed at fractional
        epochs, so full-batch GD, SGD and mini-batch runs line up.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, tempfile
    >>> from microgd.train import History
    >>> gd = History(step_loss=[4.0, 2.0, 1.0, 0.5], epoch_loss=[4.0, 2.0, 1.0, 0.5])
    >>> sgd = History(step_loss=[4.0, 3.0, 2.5, 1.0], epoch_loss=[3.5, 1.75])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     fig = plot_history({"GD": gd, "SGD": sgd}, x="epoch", path=os.path.join(tmp, "l.png"))
    ...     os.path.getsize(os.path.join(tmp, "l.png")) > 0
    True
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['GD', 'SGD']
    """
    if x not in ("step", "epoch"):
        raise ValueError(f"plot_history: x must be 'step' or 'epoch', got {x!r}")
    if series not in _SERIES_LABEL:
        runs = _runs(histories, labels, "monitors")
        if all(series in getattr(h, "monitors", {}) for _, h in runs):
            return _plot_monitor(runs, series, log, path, x)
        raise ValueError(f"plot_history: series must be one of {tuple(_SERIES_LABEL)} or the "
                         f"name of a monitor every history has, got {series!r}")
    runs = _runs(histories, labels, series)
    fig = new_figure((8.0, 4.6))
    ax = fig.add_subplot()
    positive = True
    for i, (label, hist) in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        raw = with_gaps(getattr(hist, series))
        smooth = with_gaps(hist.smoothed(beta, series))
        xs = _x_values(hist, series, x, len(raw))
        ax.plot(xs, raw, color=color, linewidth=0.9, alpha=0.3, label=f"_{label} (raw)",
                gid=f"raw:{label}")
        ax.plot(xs, smooth, color=color, linewidth=2.2, label=label, gid=f"ema:{label}")
        positive = positive and not np.any(raw[np.isfinite(raw)] <= 0)
    if log:
        ax.set_yscale("log" if positive else "symlog")
    name = _SERIES_LABEL.get(series, series)
    ax.set(xlabel=x, ylabel=name + (" (log scale)" if log else ""))
    ax.set_title(f"{name[0].upper() + name[1:]}: thin = raw, thick = EMA "
                 f"(\u03b2={beta:g}, bias-corrected)", fontsize=11)
    style_axes(ax)
    ax.legend(frameon=False)
    save_figure(fig, path)
    return fig


def _plot_monitor(runs: list[tuple[str, Any]], series: str, log: bool,
                  path: str | os.PathLike | None, x: str) -> Figure:
    fig = new_figure((8.0, 4.6))
    ax = fig.add_subplot()
    positive = True
    for i, (label, hist) in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        record = hist.monitors[series]
        xs = np.asarray(record["step"], dtype=np.float64)
        if x == "epoch":
            xs = xs / _steps_per_epoch(hist)
        values = record["value"]
        nested = any(isinstance(v, (list, tuple)) for v in values)
        columns = _columns(values) if nested else with_gaps(values)[:, None]
        name = series if label == "monitors" else label  # a single, unlabelled run
        for j in range(columns.shape[1]):
            ax.plot(xs, columns[:, j], color=color, linewidth=1.8, marker="." if
                    len(xs) < 60 else None, label=name if j == 0 else f"_{name} {j}",
                    gid=f"monitor:{label}:{j}")
        finite = columns[np.isfinite(columns)]
        positive = positive and not np.any(finite <= 0)
        threshold = with_gaps(record.get("threshold", []))
        if len(threshold) and np.isfinite(threshold).any():
            ax.plot(xs, threshold, color=color, linestyle="--", linewidth=1.2,
                    label="stability threshold (2/lr for GD)" if len(runs) == 1 else
                    f"{label}: stability threshold", gid=f"threshold:{label}")
    if log:
        ax.set_yscale("log" if positive else "symlog")
    title = {"sharpness": "sharpness (top Hessian eigenvalue)",
             "eigenvalues": "extreme Hessian eigenvalues",
             "hessian_trace": "Hessian trace (Hutchinson)",
             "gradient_noise": "gradient noise scale"}.get(series, series)
    ax.set(xlabel=x, ylabel=title + (" (log scale)" if log else ""))
    ax.set_title(f"{title[0].upper() + title[1:]}, measured on the full training loss",
                 fontsize=11)
    style_axes(ax)
    ax.legend(frameon=False)
    save_figure(fig, path)
    return fig


def _columns(values: list) -> np.ndarray:
    """Spectra (lists, possibly of different lengths) as columns padded with NaN."""
    width = max((len(v) for v in values), default=0)
    out = np.full((len(values), width), np.nan)
    for i, v in enumerate(values):
        out[i, :len(v)] = v
    return with_gaps(out)
