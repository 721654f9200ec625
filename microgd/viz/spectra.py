"""Hessian spectra: eigenvalues as stems, or a spectral density (:func:`plot_spectrum`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.viz.style import COLORS, new_figure, save_figure, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_spectrum"]


def _density(ax: Axes, result: Any, log: bool) -> str:
    grid = np.asarray(result.grid, dtype=np.float64)
    dens = np.asarray(result.density, dtype=np.float64)
    if log:
        floor = max(float(dens.max()) * 1e-12, np.finfo(float).tiny)
        dens = np.maximum(dens, floor)
        ax.set_yscale("log")
    base = float(dens.min()) if log else 0.0
    neg = grid < 0
    for name, mask, color in (("negative eigenvalues", neg, "#c92a2a"),
                              ("positive eigenvalues", ~neg, COLORS[0])):
        if mask.any():
            ax.fill_between(grid[mask], dens[mask], base, color=color, alpha=0.2)
            ax.plot(grid[mask], dens[mask], color=color, linewidth=1.6, label=name,
                    gid=f"density:{name.split()[0]}")
    ax.axvline(0.0, color="#212529", linewidth=0.9, linestyle="--")
    ax.set(xlabel="eigenvalue", ylabel="density" + (" (log scale)" if log else ""))
    return "Hessian spectral density (stochastic Lanczos quadrature)"


def _eigenvalues(ax: Axes, result: Any, log: bool) -> str:
    ev = np.sort(np.asarray(result.eigenvalues, dtype=np.float64).ravel())
    tol = float(getattr(result, "tol_eig", 0.0) or 0.0)
    idx = np.arange(len(ev))
    groups = (("negative", ev < -tol, "#c92a2a"), ("\u2248 0", np.abs(ev) <= tol, "#868e96"),
              ("positive", ev > tol, "#1c7ed6"))
    for name, mask, color in groups:
        if mask.any():
            ax.vlines(idx[mask], 0, ev[mask], colors=color, linewidth=2)
            ax.scatter(idx[mask], ev[mask], color=color, s=36, zorder=3, label=name,
                       gid=f"eig:{name}")
    ax.axhline(0.0, color="#212529", linewidth=0.9)
    if log:
        ax.set_yscale("symlog", linthresh=max(tol, 1e-3 * float(np.max(np.abs(ev), initial=1))))
    ax.set(xlabel="index (ascending)", ylabel="eigenvalue" + (" (symlog)" if log else ""))
    if len(ev) <= 30:
        ax.set_xticks(idx)
    n_neg, n_pos = int(np.sum(ev < -tol)), int(np.sum(ev > tol))
    title = f"Hessian eigenvalues: {n_neg} negative, {n_pos} positive"
    if n_neg + n_pos < len(ev):
        title += f", {len(ev) - n_neg - n_pos} \u2248 0"
    kind = getattr(result, "kind", None)
    return title + (f" ({kind})" if isinstance(kind, str) else "")


def plot_spectrum(result: Any, path: str | os.PathLike | None = None,
                  log: bool = False) -> Figure:
    """Plot a Hessian spectrum: eigenvalues as stems, or a spectral density.

    Parameters
    ----------
    result
        From :func:`microgd.hessian_eigs` or :func:`microgd.classify` (anything
        with ``.eigenvalues``): a stem plot of the eigenvalues in ascending
        order, negative ones in red (a direction of descent: a saddle or a
        maximum), those within ``result.tol_eig`` of zero (when it has one) in
        grey.  From :func:`microgd.hessian_density` (``.grid`` and
        ``.density``): the density curve, its negative part shaded.
    path : str or os.PathLike, optional
        Write the figure there (``.png``, ``.svg`` or ``.pdf``).
    log : bool, default False
        Log y axis for a density; symmetric-log for eigenvalues.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> r = mg.hessian_eigs(lambda x: x[0] ** 2 - 3 * x[1] ** 2, np.zeros(2), k=2)
    >>> fig = plot_spectrum(r)
    >>> fig.axes[0].get_title()
    'Hessian eigenvalues: 1 negative, 1 positive'
    """
    fig = new_figure((7.5, 4.4))
    ax = fig.add_subplot()
    if hasattr(result, "density") and hasattr(result, "grid"):
        title = _density(ax, result, log)
    elif hasattr(result, "eigenvalues"):
        title = _eigenvalues(ax, result, log)
    else:
        raise TypeError("plot_spectrum: expected a result with .eigenvalues (hessian_eigs, "
                        "classify) or .grid and .density (hessian_density), got "
                        f"{type(result).__name__}")
    ax.set_title(title, fontsize=12)
    style_axes(ax)
    ax.legend(frameon=False)
    save_figure(fig, path)
    return fig
