"""mzoo for Python: model zoos (one SQLite file per zoo, docs/FORMAT.md) as numpy arrays,
PyTorch modules and weight-space datasets, through libmzoo.

    import mzoo
    zoo = mzoo.open("zoo.db")                  # read-only
    zoo.models, zoo.metrics()                  # numpy structured arrays
    zoo.weights(3, 10), zoo.state_dict(3, 10)  # a checkpoint: flat float32 / reference names
    zoo.module(3, 10)                          # torch.nn.Module (needs PyTorch)
    ds = zoo.dataset(epochs="last")            # the selection and split of `mzoo dataset`
    zoo.evaluate(3, 10, "test")                # loss and accuracy through libmzoo's engines

numpy is required; torch only for Zoo.module, state_dict(torch=True) and mzoo.torch. docs/PYTHON.md
describes everything.
"""
from ._lib import (Error, FormatError, InvalidError, LIBRARY_PATH, NotFoundError,
                   UnsupportedError)
from .dataset import Dataset
from .zoo import EvalResult, Tensor, Zoo, open, to_frame

__version__ = "0.1.0"
__all__ = ["open", "Zoo", "Dataset", "Tensor", "EvalResult", "to_frame", "Error",
           "NotFoundError", "FormatError", "InvalidError", "UnsupportedError", "LIBRARY_PATH"]
