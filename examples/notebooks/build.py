"""Write the course notebooks (``*.ipynb`` in this folder) from the cells below.

Run: python examples/notebooks/build.py.  The notebooks are committed without
outputs; the test suite executes each one (tests/test_notebooks.py) and checks
that the files are what this script writes, so edit the cells here, not in
Jupyter.

Cells tagged ``figure`` end with a matplotlib Figure (a picture in Jupyter);
the cell tagged ``graph`` ends with a computation graph (SVG, drawn by
Graphviz's ``dot``).  The tests count the pictures by these tags.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

RUN = """\
Run the cells in order (Shift+Enter). You need microgd with its `plot` extra
and Jupyter: from the repository root, `pip install -e ".[plot]" jupyterlab`,
then `jupyter lab examples/notebooks`.

Every picture is the value of its cell's last line: microgd's plot functions
return a matplotlib `Figure` and Jupyter shows it, no `%matplotlib` magic
needed. `fig.axes[0]` is the plot, so a figure can be annotated before it is
shown."""


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell; ``{RUN}`` in ``text`` stands for the how-to-run paragraph."""
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip().replace("{RUN}", RUN))


def code(text: str, tag: str | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(textwrap.dedent(text).strip())
    if tag is not None:
        cell.metadata["tags"] = [tag]
    return cell


def figure(text: str) -> nbformat.NotebookNode:
    return code(text, "figure")


# ---- 1. search and gradient descent (lessons 1 to 5) ---------------------------------------

SEARCH_AND_GD = [
    md("""
    # Search and gradient descent

    *Course notebook 1 of 4: lessons 1 to 5.* How to find the weight of the
    smallest model there is, `y_hat = x * w`: by trying every value, by zooming
    in, and by following the derivative downhill; then how to read a noisy loss
    curve and how to choose the learning rate.

    {RUN}
    """),
    code("""
    import numpy as np

    import microgd as mg
    from microgd import optim
    from microgd.optim import schedules

    # the course's data: three samples of y = 2x
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([2.0, 4.0, 6.0])
    """),
    md("""
    ## 1. Exhaustive search

    Training a model means finding the weights that make its loss small. Here
    the loss is the mean squared error, `MSE(w) = mean((x * w - y)**2)`. The
    most direct way needs no calculus: try every `w` on a grid (0.0, 0.1, ...,
    4.0: 41 values), compute each loss and keep the best.

    The catch is the cost. With a bias, `y_hat = x * w + b`, the same
    resolution needs 41 values of `b` for *each* of the 41 values of `w`:
    41 * 41 = 1681 evaluations, and every further weight multiplies the cost by
    41 again. `mg.grid_search(f, bounds, num)` takes one `(lo, hi)` pair per
    weight and `num` points per weight.
    """),
    code("""
    def mse_w(p):                              # y_hat = x * w, p = [w]
        return np.mean((x * p[0] - y) ** 2)


    def mse_wb(p):                             # y_hat = x * w + b, p = [w, b]
        return np.mean((x * p[0] + p[1] - y) ** 2)


    one = mg.grid_search(mse_w, [(0.0, 4.0)], num=41)
    two = mg.grid_search(mse_wb, [(0.0, 4.0), (-2.0, 2.0)], num=41)
    print(f"1 weight:  w = {one.x[0]:.1f}, MSE = {one.value:.3g}, {one.evaluations} evaluations")
    print(f"2 weights: (w, b) = ({two.x[0]:.1f}, {two.x[1]:.1f}), {two.evaluations} evaluations")
    for d in (3, 5, 10):
        print(f"{d} weights: {41 ** d:.3g} evaluations")
    """),
    md("All 41 evaluations of the one-weight search on the loss curve, and the best of them:"),
    figure("""
    ws = np.linspace(0.0, 4.0, 41)                 # the points grid_search tried
    fig = mg.viz.plot_landscape(mse_w, [(0.0, 4.0)])
    ax = fig.axes[0]
    ax.scatter(ws, [mse_w([w]) for w in ws], s=25, zorder=4, label="41 grid points")
    ax.scatter(one.x, [one.value], marker="*", s=250, color="#e8590c", zorder=5,
               label=f"best: w = {one.x[0]:.1f}")
    ax.set(xlabel="w", ylabel="MSE(w)", title="Exhaustive search: the loss at every grid point")
    ax.legend(frameon=False)
    fig
    """),
    md("""
    ## 2. Divide and conquer

    Most points of a fine grid are far from the minimum. Divide and conquer
    starts with a coarse grid, puts a new grid of the same size on the cell
    around its best point, and repeats: with 11 points per round the box
    shrinks 5-fold each time. `mg.coarse_to_fine(f, bounds, num, tol)` zooms
    until the box is smaller than `tol`.

    The catch: it only ever looks near the best *coarse* point. The function
    below has a broad basin at w = 3 (f = 1) and a narrow, deeper well at
    w = 0.7 (f = -0.36). Whether the coarse grid catches the well is luck. A
    local method finds *a* minimum, not necessarily the best one: a theme of
    the whole course.
    """),
    code("""
    r = mg.coarse_to_fine(mse_w, [(0.0, 4.0)], num=11, tol=1e-6)
    print(f"coarse-to-fine on MSE(w): w = {r.x[0]:.7f} in {r.evaluations} evaluations "
          "(a plain grid that fine: 4,000,001)")


    def well(p):
        w = p[0]
        return 0.5 * (w - 3) ** 2 - 4 * np.exp(-200 * (w - 0.7) ** 2) + 1


    for num in (5, 7, 11):
        c = mg.coarse_to_fine(well, [(0.0, 4.0)], num=num, tol=1e-6)
        print(f"coarse grid of {num:2d} points: ends at w = {c.x[0]:.3f}, f = {c.value:.3f}")
    full = mg.grid_search(well, [(0.0, 4.0)], num=401)
    print(f"full grid of 401 points:  w = {full.x[0]:.3f}, f = {full.value:.3f}")
    """),
    figure("""
    coarse = mg.coarse_to_fine(well, [(0.0, 4.0)], num=5, tol=1e-6)
    grid = np.linspace(0.0, 4.0, 5)
    fig = mg.viz.plot_landscape(well, [(0.0, 4.0)], resolution=801)
    ax = fig.axes[0]
    ax.scatter(grid, well([grid]), s=60, zorder=4, label="the coarse grid (5 points)")
    ax.scatter(coarse.x, [coarse.value], marker="*", s=250, zorder=5,
               label=f"coarse-to-fine ends at w = {coarse.x[0]:.2f}")
    ax.scatter(full.x, [full.value], marker="*", s=250, zorder=5,
               label=f"full grid: w = {full.x[0]:.2f}")
    ax.set(xlabel="w", ylabel="f(w)", title="Zooming in near the best coarse point misses the well")
    ax.legend(frameon=False, loc="upper right")
    fig
    """),
    md("""
    ## 3. Gradient descent

    The derivative says which way is downhill: if `dcost/dw > 0` the loss grows
    with `w`, so `w` should shrink. Gradient descent steps against it, again and
    again, with the learning rate `lr` as the step size:

        w <- w - lr * dcost/dw,     dcost/dw = mean(2 * x * (x * w - y))

    `mg.value_and_grad(cost)` gives the loss and its derivative for any loss
    built from microgd's operations. The course's run: w = 1.0, lr = 0.01, 100
    epochs (one step on all three samples each).
    """),
    code("""
    def cost(w):
        return ((x * w - y) ** 2).mean()


    cost_and_grad = mg.value_and_grad(cost)
    w, lr, costs = 1.0, 0.01, []
    for epoch in range(100):
        c, g = cost_and_grad(w)
        costs.append(c)
        if epoch % 20 == 0:
            by_hand = np.mean(2 * x * (x * w - y))
            print(f"epoch {epoch:2d}: w = {float(w):.4f}, cost = {c:.4f}, "
                  f"dcost/dw = {float(g):.4f} (by hand: {by_hand:.4f})")
        w = w - lr * g
    print(f"after 100 epochs: w = {float(w):.5f}, prediction at x = 4: {4 * float(w):.4f}")
    """),
    md("""
    The same run with microgd's building blocks: the weight is a `Value`,
    `optim.GD` applies the rule and `mg.fit` runs the epochs, recording the loss
    of each step in a `History`.
    """),
    code("""
    w_param = mg.Value(1.0)
    hist = mg.fit(lambda xb, yb: ((xb * w_param - yb) ** 2).mean(), [w_param], (x, y),
                  optim.GD([w_param], lr=0.01), epochs=100)   # batch_size=None: full batch
    print(f"w = {w_param.item():.5f}; the same losses as the loop: "
          f"{np.allclose(hist.step_loss, costs)}")
    """),
    md("""
    The loss falls fast at first, then ever more slowly: near the minimum the
    gradient is small, so the steps are small. Each epoch multiplies the error
    `w - 2` by the same factor, `1 - lr * 2 * mean(x**2) = 0.9067`.
    """),
    figure("""
    fig = mg.viz.plot_history({"GD, lr 0.01": hist}, beta=0.0, x="epoch")   # beta=0: no smoothing
    fig.axes[0].set_title("The cost of y = x*w falls fast, then ever more slowly")
    fig
    """),
    md("""
    ## 4. Smoothing noisy loss curves

    When each step sees only a few samples (lesson 7), the loss of each step is
    a noisy guess and the curve jumps up and down. The cure is an exponential
    weighted average,

        v_t = beta * v_(t-1) + (1 - beta) * x_t,     v_0 = 0

    which covers roughly the last `1 / (1 - beta)` values: the larger `beta`,
    the smoother the curve, and the further it lags. Because it starts from 0,
    its first values are too small; dividing by `1 - beta**t` (*bias
    correction*) fixes the start. `History.smoothed(beta)` is the corrected
    average, and `plot_history` draws it (thick) over the raw curve (thin).
    """),
    code("""
    rng = np.random.default_rng(0)
    xn = rng.uniform(-2.0, 2.0, 200)
    yn = 2.0 * xn + 1.0 + rng.normal(0.0, 0.5, 200)    # y = 2x + 1 + noise
    slope, bias = mg.Value(0.0), mg.Value(0.0)
    noisy = mg.fit(lambda xb, yb: ((xb * slope + bias - yb) ** 2).mean(), [slope, bias],
                   (xn, yn), optim.GD([slope, bias], lr=0.01), epochs=6, batch_size=4, seed=0)
    raw = np.array(noisy.step_loss)                     # 300 steps of 4 samples


    def ema(values, beta, correct=True):
        out, v = [], 0.0
        for t, value in enumerate(values, start=1):
            v = beta * v + (1 - beta) * value
            out.append(v / (1 - beta**t) if correct else v)
        return np.array(out)


    for beta in (0.5, 0.9, 0.98):
        print(f"beta {beta}: about {1 / (1 - beta):.0f} values; starts at "
              f"{ema(raw, beta, correct=False)[0]:.3f} uncorrected, {ema(raw, beta)[0]:.3f} "
              f"corrected (first loss {raw[0]:.3f}); same as History.smoothed: "
              f"{np.allclose(noisy.smoothed(beta), ema(raw, beta))}")
    """),
    md("""
    Without the correction, the beta = 0.98 average starts near zero and comes
    within 5% of the corrected one only after about 150 steps, when `0.98**t`
    has fallen below 0.05:
    """),
    figure("""
    fig = mg.viz.plot_history({"EMA β=0.98, bias-corrected": noisy}, beta=0.98)
    ax = fig.axes[0]
    steps = np.arange(1, len(raw) + 1)
    for beta in (0.5, 0.9):
        ax.plot(steps, noisy.smoothed(beta), linewidth=1.4, label=f"EMA β={beta}, bias-corrected")
    ax.plot(steps, ema(raw, 0.98, correct=False), linestyle="--",
            label="EMA β=0.98, no bias correction")
    ax.set_ylim(0, 1.05 * raw.max())
    ax.legend(frameon=False)
    fig
    """),
    md("""
    ## 5. The learning rate

    The cost of `y_hat = x * w` is a parabola with curvature
    `L = 2 * mean(x**2) = 28/3`, and one step multiplies the error `w - 2` by
    `r = 1 - lr * L`:

    - `lr` too small: r is close to 1 and training crawls;
    - `lr > 1 / L = 0.107`: r < 0, each step jumps across the valley
      (oscillation);
    - `lr > 2 / L = 0.214`: |r| > 1, every jump is bigger than the last, and
      training *diverges*.

    Decaying the learning rate calms an oscillation: big steps far from the
    minimum, small ones near it (`schedules.Exponential` multiplies it by
    `gamma` each epoch). A diverging run is stopped by `mg.fit` with a
    `mg.DivergenceError` that suggests a smaller learning rate.
    """),
    code("""
    L = 2 * np.mean(x**2)


    def train(lr, decay=None, epochs=100):
        w = mg.Value(1.0)
        opt = optim.GD([w], lr=lr)
        callbacks = ()
        if decay is not None:
            sched = schedules.Exponential(opt, gamma=decay)
            callbacks = (lambda hist, epoch: sched.step(),)     # once per epoch
        hist = mg.fit(lambda xb, yb: ((xb * w - yb) ** 2).mean(), [w], (x, y), opt,
                      epochs=epochs, record_path=True, callbacks=callbacks)
        return w.item(), hist


    runs = {}
    for label, lr, decay in [("too small (lr 0.001)", 0.001, None),
                             ("good (lr 0.01)", 0.01, None),
                             ("oscillating (lr 0.21)", 0.21, None),
                             ("lr 0.21, decayed by 0.9 per epoch", 0.21, 0.9)]:
        w_end, runs[label] = train(lr, decay)
        print(f"{label:34s} w after 100 epochs = {w_end:.6f}")
    print(f"r = 1 - lr * L: {1 - 0.001 * L:.3f}, {1 - 0.01 * L:.3f}, {1 - 0.21 * L:.3f}")

    try:
        train(0.25)                                   # r = -1.33
    except mg.DivergenceError as err:
        print(err)
        runs["too large (lr 0.25)"] = err.history
    """),
    md("The loss curves on a log scale, and where `w` goes on the cost:"),
    figure("""
    fig = mg.viz.plot_history(runs, beta=0.0, log=True, x="epoch")
    fig.axes[0].set_title("The same model, five learning rates (the last one diverges)")
    fig
    """),
    figure("""
    fig = mg.viz.plot_landscape(lambda p: cost(p[0]), [(-2.0, 6.0)], paths={
        "lr 0.01": np.array(runs["good (lr 0.01)"].path[:30]),
        "lr 0.21 (oscillates)": np.array(runs["oscillating (lr 0.21)"].path[:6]),
        "lr 0.25 (diverges)": np.array(runs["too large (lr 0.25)"].path[:5]),
    })
    fig.axes[0].set(xlabel="w", ylabel="cost(w)", ylim=(-1, 50),
                    title="Small steps slide down; large ones jump across the valley")
    fig
    """),
    md("""
    Next: notebook 2, where a loss has more than one critical point and the
    Hessian tells minima from saddles.
    """),
]


# ---- 2. minima, saddles and the Hessian (lesson 6) -----------------------------------------

MINIMA_AND_SADDLES = [
    md("""
    # Minima, maxima and saddle points

    *Course notebook 2 of 4: lesson 6.* A real loss has many points where the
    gradient is zero (*critical points*): minima (a valley floor), maxima (a
    hilltop) and saddle points (up in some directions, down in others, like a
    mountain pass). Gradient descent stops at all of them. The Hessian tells
    them apart, and shows the way off a saddle.

    {RUN}
    """),
    code("""
    from collections import Counter

    import numpy as np

    import microgd as mg
    """),
    md("""
    ## The Hessian test

    The Hessian `H[i, j] = d2f / (dx_i dx_j)` holds the second derivatives. Its
    eigenvalues are the curvatures of `f` along its eigenvectors. At a critical
    point: all positive, a minimum; all negative, a maximum; both signs, a
    saddle; some (nearly) zero, *degenerate* (second order cannot decide).
    `mg.classify(f, x)` does the test with the exact Hessian, and
    `escape_direction` is the unit eigenvector of the most negative eigenvalue.
    """),
    code("""
    def saddle(p):
        return p[0] ** 2 - p[1] ** 2


    print("Hessian at (0, 0):", mg.hessian(saddle)(np.zeros(2)).tolist())
    cp = mg.classify(saddle, np.zeros(2))
    print(f"{cp.kind}: eigenvalues {cp.eigenvalues}, escape direction {cp.escape_direction}")
    """),
    figure("""
    mg.viz.plot_spectrum(cp)
    """),
    md("""
    ## Stuck on a saddle, and the way off

    Gradient descent from (1, 0) slides straight into the saddle and stops: the
    gradient there is zero. Near a critical point, a step `t` along a unit
    eigenvector with eigenvalue `lambda` changes the loss by about
    `0.5 * lambda * t**2`. For `lambda < 0` the loss goes *down*, whichever way
    along the eigenvector you step, and gradient descent takes over again.
    """),
    code("""
    grad = mg.grad(saddle)


    def gd_path(start, lr=0.1, steps=100):
        path = [np.array(start, dtype=float)]
        for _ in range(steps):
            path.append(path[-1] - lr * grad(path[-1]))
        return np.array(path)


    stuck = gd_path([1.0, 0.0])
    p = stuck[-1]
    print(f"GD ends at {p.round(9) + 0.0}, gradient norm {np.linalg.norm(grad(p)):.1e}: "
          f"a {mg.classify(saddle, p).kind}")
    q = p + 0.5 * mg.classify(saddle, p).escape_direction     # one step off the saddle
    after = gd_path(q, steps=10)
    print(f"f: {saddle(p):.3g} at the saddle, {saddle(q):.3f} after the step "
          f"(0.5 * lambda * t**2 = {0.5 * -2.0 * 0.5**2}), {saddle(after[-1]):.2f} after "
          "10 more GD steps")
    """),
    figure("""
    fig = mg.viz.plot_landscape(saddle, [(-2.0, 2.0), (-3.5, 3.5)], paths={
        "GD from (1, 0): stuck at the saddle": stuck,
        "one step along the escape direction": np.array([p, q]),
        "10 more GD steps": after,
    }, critical_points=[cp])
    fig.axes[0].legend(loc="lower right", fontsize=9)
    fig
    """),
    md("""
    ## Nine critical points

    Himmelblau's function `(x**2 + y - 11)**2 + (x + y**2 - 7)**2` has nine
    critical points in [-5, 5]². The gradient is zero at all of them; only the
    Hessian tells the four minima, four saddles and one maximum apart.
    `mg.find_critical_points(f, bounds)` finds them (Newton's method on the
    gradient from many seeded starts) and classifies each.
    """),
    code("""
    def himmelblau(p):
        x, y = p[0], p[1]
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


    points = mg.find_critical_points(himmelblau, [(-5, 5), (-5, 5)], starts=100, seed=0)
    print(dict(Counter(p.kind for p in points)))
    for p in points:
        print(f"{p.kind:8s} at ({p.x[0]:+.3f}, {p.x[1]:+.3f}): f = {p.value:7.3f}, "
              f"Hessian eigenvalues {np.round(p.eigenvalues, 2)}")
    """),
    md("The arrows show each saddle's escape direction, along which `f` decreases both ways:"),
    figure("""
    fig = mg.viz.plot_landscape(himmelblau, [(-5, 5), (-5, 5)], critical_points=points)
    ax = fig.axes[0]
    ax.set_title("Himmelblau's function: 4 minima, 4 saddles, 1 maximum")
    for p in points:
        if p.kind == "saddle":
            for sign in (1, -1):
                ax.annotate("", xy=p.x + sign * 0.8 * p.escape_direction, xytext=p.x,
                            arrowprops={"arrowstyle": "->", "color": "white", "lw": 1.6})
    fig
    """),
    md("""
    ## A network on a saddle

    Saddles are not a textbook curiosity. A network whose two hidden units start
    with the same weights (here all zero) sits on one: both units get the same
    gradient, zero, and gradient descent never moves. The Hessian has negative
    eigenvalues, and one small step along the escape direction is enough for
    gradient descent to train the network.
    """),
    code("""
    xs = np.linspace(-2, 2, 21)
    ys = np.tanh(1.5 * xs)


    def tiny_net_loss(p):                 # y = v1 tanh(w1 x) + v2 tanh(w2 x)
        w1, w2, v1, v2 = p[0], p[1], p[2], p[3]
        return ((v1 * (w1 * xs).tanh() + v2 * (w2 * xs).tanh() - ys) ** 2).mean()


    net_grad = mg.grad(tiny_net_loss)


    def descend(p, lr=0.5, steps=300):
        losses = []
        for _ in range(steps):
            losses.append(tiny_net_loss(mg.Value(p)).item())
            p = p - lr * net_grad(p)
        return losses


    start = np.zeros(4)
    cp_net = mg.classify(tiny_net_loss, start)
    print(f"gradient at the start {net_grad(start)}: a {cp_net.kind}, "
          f"eigenvalues {np.round(cp_net.eigenvalues, 3)}")
    stuck_losses = descend(start)
    escaped_losses = descend(start + 0.1 * cp_net.escape_direction)
    print(f"after 300 GD steps: loss {stuck_losses[-1]:.4f} from the saddle, "
          f"{escaped_losses[-1]:.1e} after one escape step")
    """),
    figure("""
    mg.viz.plot_spectrum(cp_net)
    """),
    figure("""
    fig = mg.viz.plot_history({"GD from the saddle": mg.History(step_loss=stuck_losses),
                               "one escape step, then GD": mg.History(step_loss=escaped_losses)},
                              beta=0.0, log=True)
    fig.axes[0].set_title("The tiny network: stuck on the saddle, or trained after one step")
    fig
    """),
    md("""
    Next: notebook 3, where the noise of stochastic gradients, momentum and the
    starting point decide where training ends.
    """),
]


# ---- 3. SGD, mini-batches, momentum and initialization (lessons 7 to 9) ----------------------

SGD_MOMENTUM_INIT = [
    md("""
    # SGD, momentum and initialization

    *Course notebook 3 of 4: lessons 7, 8 and 9.* Three ways the path of
    training changes where it ends: the noise of stochastic and mini-batch
    gradients, the inertia of momentum, and the starting point.

    {RUN}
    """),
    code("""
    import numpy as np

    import microgd as mg
    from microgd import nn, optim
    from microgd.data import Batches
    """),
    md("""
    ## 7. SGD and mini-batches

    Full-batch gradient descent computes the gradient on *all* the samples
    before each step. **SGD** steps after every single sample, in a random
    order: many cheap, noisy steps, whose noise can even push the weights off a
    saddle; but step 2 needs the weights of step 1, so nothing runs in
    parallel. **Mini-batch SGD** is the compromise used in practice: the average
    gradient of a small batch, computed together, with the batches reshuffled
    every epoch. In `mg.fit`, `batch_size=None` is GD, `1` is SGD and `k` is
    mini-batch. The *noise* below is the mean jump between consecutive step
    losses, relative to the mean loss, over the second half of training.
    """),
    code("""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, 200)
    y = 2.0 * x + 1.0 + rng.normal(0.0, 0.5, 200)


    def train(batch_size):
        w, b = mg.Value(0.0), mg.Value(0.0)
        hist = mg.fit(lambda xb, yb: ((xb * w + b - yb) ** 2).mean(), [w, b], (x, y),
                      optim.GD([w, b], lr=0.05), epochs=20, batch_size=batch_size, seed=0)
        return hist, np.mean((w.item() * x + b.item() - y) ** 2)


    def noise(losses):
        tail = np.array(losses[len(losses) // 2:])
        return np.mean(np.abs(np.diff(tail))) / np.mean(tail)


    runs = {"SGD (batch 1)": train(1), "mini-batch 16": train(16), "GD (full batch)": train(None)}
    floor = np.mean((np.polyval(np.polyfit(x, y, 1), x) - y) ** 2)   # least squares: the best
    for name, (hist, loss) in runs.items():
        print(f"{name:16s} {len(hist.step_loss):4d} steps, noise {noise(hist.step_loss):.2f}, "
              f"final loss {loss:.4f} (best possible {floor:.4f})")
    """),
    md("""
    Against epochs: SGD gets close within the first epoch, then jitters around
    the minimum (thin: raw, thick: the exponential average of lesson 4); GD
    makes one smooth step per epoch and is still on its way after 20.
    """),
    figure("""
    gd = runs["GD (full batch)"][0].step_loss
    noisy = {name: hist for name, (hist, _) in runs.items() if name != "GD (full batch)"}
    fig = mg.viz.plot_history(noisy, beta=0.9, x="epoch")
    ax = fig.axes[0]
    ax.plot(np.arange(1, len(gd) + 1), gd, "o-", markersize=4, linewidth=2,
            label="GD (full batch), 1 step per epoch")
    ax.set_ylim(0, 1.05 * max(gd))
    ax.legend(frameon=False)
    fig
    """),
    md("A `Batches` loader reshuffles at every pass; each sample appears once per epoch:"),
    code("""
    loader = Batches(x, y, batch_size=16, seed=0)
    epoch1 = [yb for _, yb in loader]
    epoch2 = [yb for _, yb in loader]
    print(f"{len(loader)} batches, sizes {[len(yb) for yb in epoch1]}")
    print("every sample once:", np.array_equal(np.sort(np.concatenate(epoch1)), np.sort(y)))
    print("first batch of epoch 1:", np.round(epoch1[0][:4], 2), "... of epoch 2:",
          np.round(epoch2[0][:4], 2))
    """),
    md("""
    ## 8. Momentum

    Gradient descent has no memory: in a small dip the gradient is zero and it
    stops, even if a deeper valley lies past the next bump. Momentum adds
    inertia, like a ball rolling downhill. Its velocity `m` remembers the past
    steps (heavy ball, `optim.Momentum`):

        m <- beta * m - lr * gradient
        w <- w + m

    On `f(w) = w**4 - 4 w**2 + 2 w`, from w = 2.2, GD stops in the shallow local
    minimum at w = 1.27; momentum rolls over the bump into the global minimum at
    w = -1.53. It is no guarantee: from w = 1.8 the ball is too slow.
    """),
    code("""
    def bumpy(w):
        return (w**4 - 4 * w**2 + 2 * w).sum()


    def valley(p):                              # 100 times steeper across than along
        return 0.5 * p[0] ** 2 + 50.0 * p[1] ** 2


    def minimize(f, start, optimizer, steps, **hyper):
        w = mg.Value(np.array(start, dtype=float))
        opt = optimizer([w], **hyper)
        path, losses = [w.data.copy()], []
        for _ in range(steps):
            opt.zero_grad()
            loss = f(w)
            losses.append(loss.item())
            loss.backward()
            opt.step()
            path.append(w.data.copy())
        return np.array(path), np.array(losses)


    gd_path, _ = minimize(bumpy, [2.2], optim.GD, 300, lr=0.01)
    mom_path, _ = minimize(bumpy, [2.2], optim.Momentum, 300, lr=0.01, beta=0.9)
    slow_path, _ = minimize(bumpy, [1.8], optim.Momentum, 300, lr=0.01, beta=0.9)
    print(f"from 2.2: GD ends at w = {gd_path[-1, 0]:.4f}, momentum at w = {mom_path[-1, 0]:.4f}")
    print(f"from 1.8: momentum ends at w = {slow_path[-1, 0]:.4f}")
    """),
    figure("""
    fig = mg.viz.plot_landscape(bumpy, [(-2.3, 2.4)],
                                paths={"GD": gd_path, "momentum, β = 0.9": mom_path})
    fig.axes[0].set(xlabel="w", ylabel="f(w)", ylim=(-8, 10))
    fig
    """),
    md("""
    Momentum also helps along narrow valleys. On `x**2 / 2 + 50 y**2` the steep
    direction caps the learning rate, and GD then crawls along the flat floor;
    momentum's steps along the floor add up. Too much momentum overshoots and
    circles for longer: `beta` is a knob to tune, like `lr`.
    """),
    code("""
    def steps_to(losses, target=1e-8):
        return int(np.argmax(losses < target))


    valley_paths = {}
    for label, optimizer, hyper in [("GD", optim.GD, {}),
                                    ("momentum, β = 0.8", optim.Momentum, {"beta": 0.8}),
                                    ("momentum, β = 0.9", optim.Momentum, {"beta": 0.9})]:
        path, losses = minimize(valley, [-8.0, 1.5], optimizer, 700, lr=0.018, **hyper)
        valley_paths[label] = path[:51]           # the first 50 steps, for the picture
        print(f"{label:18s} f < 1e-8 after {steps_to(losses)} steps")
    """),
    figure("""
    fig = mg.viz.plot_landscape(valley, [(-9.0, 3.0), (-2.0, 2.0)],
                                paths={k: valley_paths[k] for k in ("GD", "momentum, β = 0.8")})
    fig.axes[0].set_title("A narrow valley, the first 50 steps", fontsize=11)
    fig
    """),
    md("""
    ## 9. Initialization

    Gradient descent only goes downhill, so *where it starts* decides which
    valley it ends in. Each start belongs to the *basin* of one minimum; on
    `bumpy` the basins are separated by the maximum at w = 0.259, and starts on
    either side of it, however close, end in different minima.
    """),
    code("""
    BARRIER = 0.2586520
    basins = {}
    for start in (-2.0, -0.3, 0.2, 0.4, 2.0):
        path, _ = minimize(bumpy, [start], optim.GD, 500, lr=0.01)
        basins[f"start {start:g}"] = path
        print(f"start {start:+.1f} -> w = {path[-1, 0]:+.4f}")
    print("the ridge between the basins:", mg.classify(bumpy, np.array([BARRIER])).kind)
    """),
    figure("""
    fig = mg.viz.plot_landscape(bumpy, [(-2.3, 2.3)], paths=basins)
    ax = fig.axes[0]
    ax.axvline(BARRIER, color="#868e96", linestyle=":", linewidth=1.2)
    ax.set(xlabel="w", ylabel="f(w)", ylim=(-8, 6))
    fig
    """),
    md("""
    A network starts from random weights, so the *seed* of its initialization
    is a starting point too. The same small network, data and optimizer can end
    at very different losses depending on the seed alone: some starts reach a
    good fit quickly, others sit on a plateau for hundreds of epochs. Good
    initialization schemes avoid the worst starts but cannot choose the basin;
    trying a few seeds, or momentum, are the practical remedies.
    """),
    code("""
    xs = np.linspace(-3.0, 3.0, 64)[:, None]
    ys = np.sin(2 * xs)


    def fit_seed(seed):
        model = nn.MLP(1, [3, 1], activation="tanh", seed=seed)
        params = model.parameters()
        return mg.fit(lambda xb, yb: nn.mse(model(xb), yb), params, (xs, ys),
                      optim.Adam(params, lr=0.05), epochs=400)


    seeds = {f"seed {seed}": fit_seed(seed) for seed in range(6)}
    for name, hist in seeds.items():
        print(f"{name}: final loss {hist.step_loss[-1]:.4f}")
    """),
    figure("""
    fig = mg.viz.plot_history(seeds, beta=0.0, log=True, x="epoch")
    fig.axes[0].set_title("The same MLP and data, six random initializations")
    fig
    """),
    md("""
    Next: notebook 4, where the gradients come from, and a small classifier that
    puts the lessons together.
    """),
]


# ---- 4. gradients, graphs and a small classifier (lessons 10 and 11) ---------------------------

GRAPHS_AND_CLASSIFIER = [
    md("""
    # Gradients, graphs and a small classifier

    *Course notebook 4 of 4: lessons 10 and 11.* Where the gradients come from
    (the derivatives of the building blocks and the computation graph), what
    second derivatives add, and a small neural network trained on a real, if
    small, problem, with its Hessian spectrum and a picture of its loss
    landscape.

    {RUN} The computation graph is drawn by Graphviz's `dot` program
    (`apt-get install graphviz` on Debian and Ubuntu).
    """),
    code("""
    import numpy as np

    import microgd as mg
    from microgd import nn, optim
    from microgd.testing import check_grads
    """),
    md("""
    ## Gradients of common functions

    | function | derivative |
    |---|---|
    | linear: `a*x + b` | `a` |
    | quadratic: `x**2` | `2*x` |
    | exponential: `exp(x)` | `exp(x)` |
    | logarithm: `log(x)` (x > 0) | `1/x` |
    | mean squared error: `mean((x*w - y)**2)` | `mean(2*x*(x*w - y))` |

    Composite functions follow from the *chain rule*: the derivative of
    `f(g(x))` is `f'(g(x)) * g'(x)`. `mg.grad(f)` turns a scalar function into
    its gradient function; applied to `sum(f(t))` it gives `f'` at every
    element of `t` at once. `check_grads` compares first and second derivatives
    with finite differences.
    """),
    code("""
    t = np.array([0.5, 1.0, 2.0, 3.0])
    table = {
        "3x - 1": (lambda v: 3.0 * v - 1.0, lambda v: 3.0 + 0 * v),
        "x**2": (lambda v: v**2, lambda v: 2 * v),
        "exp(x)": (mg.exp, np.exp),
        "log(x)": (mg.log, lambda v: 1 / v),
    }
    for name, (f, derivative) in table.items():
        g = mg.grad(lambda v, f=f: f(v).sum())(t)
        check_grads(lambda v, f=f: f(v).sum(), (t,), order=2)    # raises if wrong
        print(f"{name:7s} autodiff {np.round(g, 4)}, table {np.round(derivative(t), 4)}")
    """),
    md("""
    ## The computation graph

    While a loss is computed, microgd records each operation and its inputs:
    the *computation graph*. `backward()` walks it from the loss back to the
    inputs, multiplying local derivatives on the way (the chain rule in
    reverse: *reverse-mode autodiff*). One backward pass gives the derivative
    with respect to every input. `mg.draw_graph(v)` draws the graph; for the
    cost of `y = x*w` at w = 1 it shows the chain `mul -> sub -> pow -> mean`
    and, after `backward()`, the gradient -9.333 on `w`.
    """),
    code("""
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([2.0, 4.0, 6.0])
    w = mg.Value(1.0)
    cost = ((x * w - y) ** 2).mean()
    cost.backward()

    # the chain rule along the graph, by hand: mean -> pow -> sub -> mul
    d_mean = np.full(3, 1 / 3)          # d mean(u) / du_i
    d_pow = 2 * (x * 1.0 - y)           # d u**2 / du
    d_mul = x                           # d (x * w) / dw
    print(f"w.grad = {w.grad:.4f}, by hand {np.sum(d_mean * d_pow * d_mul):.4f}")
    """),
    code("""
    mg.draw_graph(cost, labels={"w": w})
    """, "graph"),
    md("""
    ## Second derivatives: Hessian-vector products

    The Hessian of a model with n weights has n² entries: too many to form for
    a real network. What optimization methods need is usually its product with
    a vector, `H @ v`. microgd's derivative rules are themselves
    differentiable, so `mg.hvp(f, x, v)` computes `H @ v` exactly, for about
    the cost of two gradients, without forming `H`.
    """),
    code("""
    def f(p):
        return p[0] ** 2 * p[1] + mg.exp(p[1])


    p = np.array([1.0, 0.5])
    v = np.array([0.3, -2.0])
    H = mg.hessian(f)(p)                 # the full matrix: fine in 2-D
    print("H =", H.round(4).tolist())
    print("hvp:", mg.hvp(f, p, v), " H @ v:", H @ v)
    """),
    md("""
    ## 10. A small classifier

    Two interleaving half circles, the "two moons", each point labelled 0 or 1:
    no straight line separates them, a small neural network can.
    `nn.MLP(2, [16, 16, 1], activation="tanh")` maps a point to one number, the
    *logit* `z`; the probability of class 1 is `sigmoid(z)`. The loss is the
    binary cross-entropy, `mean(log(1 + exp(z)) - y * z)`
    (`nn.binary_cross_entropy`, which never overflows), and Adam trains the 337
    weights for 300 full-batch epochs: far too many weights for a grid search,
    no problem for gradients. Fresh points from the same generator check that
    the network learnt the shape of the moons, not the 200 points.
    """),
    code("""
    def two_moons(n=200, noise=0.15, seed=0):
        rng = np.random.default_rng(seed)
        half = n // 2
        t = rng.uniform(0.0, np.pi, n)
        upper = np.stack([np.cos(t[:half]), np.sin(t[:half])], axis=1)
        lower = np.stack([1.0 - np.cos(t[half:]), 0.5 - np.sin(t[half:])], axis=1)
        X = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (n, 2))
        return X, np.concatenate([np.zeros(half), np.ones(n - half)])


    X, labels = two_moons(seed=0)
    X_test, labels_test = two_moons(seed=1)
    model = nn.MLP(2, [16, 16, 1], activation="tanh", seed=0)
    params = model.parameters()
    hist = mg.fit(lambda xb, yb: nn.binary_cross_entropy(model(xb)[:, 0], yb), params,
                  (X, labels), optim.Adam(params, lr=0.02), epochs=300)


    def accuracy(X, labels):
        with mg.no_grad():
            return np.mean((model(X).data[:, 0] > 0) == (labels == 1))


    print(f"{sum(p.size for p in params)} weights; loss {hist.step_loss[0]:.3f} -> "
          f"{hist.step_loss[-1]:.4f}; accuracy {accuracy(X, labels):.1%} (training), "
          f"{accuracy(X_test, labels_test):.1%} (fresh points)")
    """),
    figure("""
    fig = mg.viz.plot_history({"Adam, lr 0.02": hist}, beta=0.0, log=True, x="epoch")
    fig.axes[0].set_title("Two moons: the binary cross-entropy during training")
    fig
    """),
    md("The network's logit over the plane; the decision boundary (logit 0) is red:"),
    figure("""
    bounds = [(-1.6, 2.6), (-1.2, 1.7)]


    def logit(p):      # one point (2,) or, on plot_landscape's grid, all points (2, M)
        return model(p.T)[..., 0].clip(-8.0, 8.0)


    fig = mg.viz.plot_landscape(logit, bounds, resolution=101)
    ax = fig.axes[0]
    ax.set_title(f"The decision boundary, training accuracy {accuracy(X, labels):.1%}")
    fig.axes[1].set_ylabel("logit (log-odds of class 1, clipped to ±8)")
    gx, gy = np.meshgrid(np.linspace(*bounds[0], 101), np.linspace(*bounds[1], 101))
    with mg.no_grad():
        z = logit(mg.Value(np.stack([gx.ravel(), gy.ravel()]))).data.reshape(gx.shape)
    ax.contour(gx, gy, z, levels=[0.0], colors="#e03131", linewidths=2.5)
    for label, marker, color in ((0, "o", "white"), (1, "s", "#212529")):
        ax.scatter(*X[labels == label].T, marker=marker, s=22, color=color,
                   edgecolors="#495057", linewidths=0.6, label=f"class {label}")
    ax.legend(loc="upper right", fontsize=9)
    fig
    """),
    md("""
    ## The Hessian spectrum of a model

    The eigenvalues of the Hessian describe the shape of the loss around a
    point. `mg.hessian_eigs(f, params, k)` finds the extreme ones from
    Hessian-vector products alone, where `params` can be a model's list of
    weight arrays. For `MLP(1, [8, 1])` (25 weights) fitting `sin(2x)`: at its
    random initialization the spectrum has many negative eigenvalues; after
    training they have (almost) vanished, leaving the shape often seen in deep
    learning: a few large eigenvalues (sharp directions) and a bulk near zero
    (flat directions).
    """),
    code("""
    xs = np.linspace(-2, 2, 40)[:, None]
    ys = np.sin(2 * xs)
    small = nn.MLP(1, [8, 1], activation="tanh", seed=0)
    small_params = small.parameters()


    def loss(weights):                   # the model's loss as a function of its weights
        W1, b1, W2, b2 = weights
        return nn.mse(mg.tanh(xs @ W1 + b1) @ W2 + b2, ys)


    def spectrum():
        return mg.hessian_eigs(loss, [p.data.copy() for p in small_params], k=25,
                               which="largest")           # all 25 eigenvalues


    before = spectrum()
    mg.fit(lambda xb, yb: nn.mse(small(xb), yb), small_params, (xs, ys),
           optim.Adam(small_params, lr=0.05), epochs=300)
    after = spectrum()
    for name, r in (("at initialization", before), ("after training", after)):
        ev = r.eigenvalues
        print(f"{name:17s}: {np.sum(ev < -0.1):2d} below -0.1, {np.sum(np.abs(ev) < 0.1):2d} "
              f"within 0.1 of zero, largest {ev.max():.2f}")
    """),
    figure("""
    mg.viz.plot_spectrum(after, log=True)
    """),
    md("""
    ## A slice of the loss landscape

    A model has too many weights for a contour map, so the usual picture (Li et
    al., 2018) is a 2-D slice: `loss(theta + alpha*d1 + beta*d2)` around the
    trained weights `theta`, along two random directions rescaled filter by
    filter to the size of the weights they perturb (*filter normalization*).
    The trained MLP sits at the bottom of a narrow, curved valley (the star);
    further out the loss rises by orders of magnitude.
    """),
    figure("""
    mg.viz.plot_landscape(params=small_params, loss=loss, resolution=15)
    """),
    md("""
    That is the course. The lessons' text, with every claim checked by the test
    suite, is in `docs/lessons/`; the scripts in `examples/` print the tables and
    write the pictures to files.
    """),
]

NOTEBOOKS = {
    "01-search-and-gradient-descent.ipynb": SEARCH_AND_GD,
    "02-minima-saddles-and-the-hessian.ipynb": MINIMA_AND_SADDLES,
    "03-sgd-momentum-and-initialization.ipynb": SGD_MOMENTUM_INIT,
    "04-gradients-graphs-and-a-classifier.ipynb": GRAPHS_AND_CLASSIFIER,
}


def notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """A notebook of ``cells`` with fixed cell ids, so the file is the same on every build."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.from_dict({**cell, "id": f"cell-{i:02d}"})
                for i, cell in enumerate(cells)]
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The text of the notebook file ``name``."""
    return nbformat.writes(notebook(NOTEBOOKS[name]))


def main() -> None:
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
