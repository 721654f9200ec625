"""Optimizers: the classic update rules, each a few readable lines of NumPy.

Every optimizer updates a list of :class:`~microgd.Value` parameters in place
from their ``.grad``, the way ``torch.optim`` does: ``zero_grad()``, compute a
loss, ``backward()``, ``step()``.  ``SGD``, ``Nesterov``, ``Adam``, ``AdamW``,
``RMSProp`` and ``AdaGrad`` follow the update rules of the ``torch.optim``
classes of the same name step for step; ``GD`` and ``Momentum`` are the
textbook rules.  The base class is in :mod:`microgd.optim.base`, the
gradient-descent family in :mod:`microgd.optim.sgd`, the adaptive rules in
:mod:`microgd.optim.adaptive`, perturbed gradient descent (Jin et al. 2017)
in :mod:`microgd.optim.perturbed`, Newton and saddle-free Newton (Dauphin et
al. 2014), whose ``step(closure)`` re-evaluates the loss, in
:mod:`microgd.optim.newton`, and the learning-rate schedules in
:mod:`microgd.optim.schedules`; import them all from ``microgd.optim``.

Examples
--------
>>> import numpy as np
>>> import microgd as mg
>>> from microgd import optim
>>> w = mg.Value(np.array([3.0, -1.0]))
>>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(300):
...     opt.zero_grad()
...     loss = (w * w).sum()
...     loss.backward()
...     opt.step()
>>> bool(np.allclose(w.data, 0.0, atol=1e-6))
True
"""

from microgd.optim import schedules
from microgd.optim.adaptive import AdaGrad, Adam, AdamW, RMSProp
from microgd.optim.base import Optimizer
from microgd.optim.newton import Newton, SaddleFreeNewton
from microgd.optim.perturbed import PerturbedGD
from microgd.optim.sgd import GD, SGD, Momentum, Nesterov

__all__ = [
    "GD", "SGD", "AdaGrad", "Adam", "AdamW", "Momentum", "Nesterov", "Newton", "Optimizer",
    "PerturbedGD", "RMSProp", "SaddleFreeNewton", "schedules",
]
