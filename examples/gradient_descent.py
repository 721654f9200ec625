"""Lesson 3: gradient descent on the course's toy model ``y_hat = x * w``.

The data are x = [1, 2, 3] and y = [2, 4, 6], so the best weight is w = 2.
Starting from the guess w = 1.0, each epoch computes the cost (the mean
squared error over the three samples) and its derivative dcost/dw, and moves
``w <- w - lr * dcost/dw`` with lr = 0.01, for 100 epochs, exactly as in the
notes.  The only change: the derivative comes from microgd's autodiff
(``mg.value_and_grad``) instead of the hand-derived formula
``mean(2 * x * (x * w - y))``, and the script checks that the two agree.

w climbs to 2 (1.99994 after 100 epochs), the prediction for x = 4 goes from
4 to 8, and the cost falls fast at first and then ever more slowly: each epoch
multiplies the error ``w - 2`` by ``1 - lr * 2 * mean(x**2) = 0.9067``.

Run: python examples/gradient_descent.py [OUT_DIR]   (OUT_DIR gets the loss curve)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd.lessons import X_DATA, Y_DATA, cost  # cost = mean((x * w - y)**2)


def forward(x, w):
    """The model: ``y_hat = x * w``."""
    return x * w


def hand_gradient(w, xs=X_DATA, ys=Y_DATA):
    """The derivative as derived by hand in the notes: ``mean(2 x (x w - y))``."""
    return float(np.mean(2 * xs * (xs * w - ys)))


def train(w=1.0, lr=0.01, epochs=100, verbose=True, log_every=1):
    """Gradient descent as in the notes, with the gradient computed by autodiff.

    Parameters
    ----------
    w : float
        The initial guess.
    lr : float
        The learning rate.
    epochs : int
        Number of updates (one per epoch: full-batch gradient descent).
    verbose : bool
        Print the notes' log: epoch, w after the update, cost before it.
    log_every : int
        Print every this many epochs (the first and last always).

    Returns
    -------
    dict
        ``w``, ``prediction`` (at x = 4), ``prediction_before``, ``costs``
        (the cost of each epoch, before its update), ``final_cost`` and
        ``max_grad_error`` (largest gap between autodiff and the formula).
    """
    cost_and_grad = mg.value_and_grad(cost)
    before = float(forward(4.0, w))
    if verbose:
        print("Predict (before training)", 4, before)
    costs, grad_error = [], 0.0
    for epoch in range(epochs):
        cost_val, grad_val = cost_and_grad(w)
        grad_error = max(grad_error, abs(float(grad_val) - hand_gradient(w)))
        w = w - lr * float(grad_val)
        costs.append(float(cost_val))
        if verbose and (epoch % log_every == 0 or epoch == epochs - 1):
            print(f"Epoch: {epoch:3d}   w = {w:.6f}   loss = {cost_val:.6g}")
    prediction = float(forward(4.0, w))
    if verbose:
        print("Predict (after training)", 4, round(prediction, 6))
        print(f"autodiff and the hand-derived gradient agree to {grad_error:.1e}")
    return {"w": w, "prediction": prediction, "prediction_before": before, "costs": costs,
            "final_cost": float(cost(w)), "max_grad_error": grad_error}


def save_pictures(result, out):
    """The loss curve (cost per epoch) as ``out/gradient_descent.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.train import History
    from microgd.viz.plots import plot_history

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "gradient_descent.png")
    hist = History(step_loss=result["costs"], epoch_loss=result["costs"])
    # beta=0: the GD curve is not noisy, so there is nothing to smooth
    fig = plot_history({"GD, lr 0.01": hist}, beta=0.0, x="epoch")
    fig.axes[0].set_title("Lesson 3: the cost of y = x*w falls fast, then ever more slowly")
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose=True, out=None):
    """Run the lesson; with ``out``, write its picture there.  Returns the numbers."""
    result = train(verbose=verbose)
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
