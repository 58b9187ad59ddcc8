"""Data for tuinet: generators, shipped data sets, file loading, splits and scaling.

    from tuinet import data
    ds = data.load("spiral", samples=400, noise=0.1, seed=1)    # or "iris", or "data/patients.csv"
    parts = data.split(ds.y, (0.7, 0.15, 0.15), seed=0)
    scaler = data.get_scaler("standard").fit(ds.x[parts.train])
    x_train = scaler.transform(ds.x[parts.train])

NumPy only; nothing here touches the network. The engine (`tuinet.nn`) does not import this
package, and this package imports neither the app nor the CLI.
"""

from tuinet.data.dataset import Dataset
from tuinet.data.files import load_csv, load_file, load_npy, load_npz
from tuinet.data.generators import (GENERATORS, circle, gauss, get_generator, moons, multi_gauss, plane,
                                    side_effects, sine, spiral, xor)
from tuinet.data.loader import load
from tuinet.data.preprocessing import (SCALERS, MinMaxScaler, Scaler, StandardScaler, get_scaler, one_hot,
                                       scaler_from_config)
from tuinet.data.prepared import Prepared, prepare
from tuinet.data.shipped import DATASETS, load_dataset
from tuinet.data.splitting import Split, kfold, split

__all__ = [
    "Dataset",
    "GENERATORS", "circle", "xor", "gauss", "spiral", "moons", "plane", "multi_gauss", "sine", "side_effects",
    "get_generator",
    "DATASETS", "load_dataset",
    "load_csv", "load_npy", "load_npz", "load_file", "load",
    "Split", "split", "kfold",
    "Prepared", "prepare",
    "Scaler", "StandardScaler", "MinMaxScaler", "SCALERS", "get_scaler", "scaler_from_config", "one_hot",
]
