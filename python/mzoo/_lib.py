"""The binding to libmzoo.so.0 (ctypes): the library, its status codes as exceptions, and the C
structures the package passes to it, mirrored field by field from include/mzoo/*.h.

tests/python/test_abi.py compiles a C program that prints sizeof/offsetof of each structure and
checks the mirrors here against it, so a change of a header cannot go unnoticed.
"""
import ctypes
import os

# ---- finding the library ----
_HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libmzoo.so.0"


def _candidates():
    env = os.environ.get("MZOO_LIBRARY")
    if env:
        yield env, "$MZOO_LIBRARY"
        return
    try:  # written by `cmake --install`: the library installed with this package
        from . import _install
        yield _install.LIBRARY, "the install (mzoo/_install.py)"
    except ImportError:
        pass
    # a source tree: python/mzoo next to build/
    yield os.path.join(_HERE, "..", "..", "build", SONAME), "the source tree's build/"
    yield SONAME, "the system's library path"


def _load():
    tried = []
    for path, where in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} ({where}: missing)")
            continue
        try:
            return ctypes.CDLL(path), os.path.realpath(path) if os.sep in path else path
        except OSError as e:
            tried.append(f"{path} ({where}: {e})")
    raise ImportError(
        "mzoo: cannot load libmzoo.so.0; build it (cmake -S . -B build && cmake --build build), "
        "install it (cmake --install build), or point MZOO_LIBRARY at it. Tried: "
        + "; ".join(tried))


lib, LIBRARY_PATH = _load()

# ---- status codes and errors ----
MZ_OK, MZ_ENOMEM, MZ_EINVAL, MZ_EIO, MZ_EFORMAT = 0, 1, 2, 3, 4
MZ_ESTORE, MZ_ENOTFOUND, MZ_EUNSUPPORTED, MZ_ELIMIT = 6, 11, 13, 15


class Error(Exception):
    """An error reported by libmzoo: `status` is its mz_status code, str() its message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class NotFoundError(Error, LookupError):
    """A zoo file, model, epoch, checkpoint or dataset that does not exist (MZ_ENOTFOUND)."""


class FormatError(Error, ValueError):
    """A file that is not a zoo, a newer schema, or damaged data (MZ_EFORMAT)."""


class InvalidError(Error, ValueError):
    """An invalid argument or option (MZ_EINVAL)."""


class UnsupportedError(Error):
    """A valid request this build or this zoo cannot serve (MZ_EUNSUPPORTED)."""


_CLASSES = {MZ_ENOTFOUND: NotFoundError, MZ_EFORMAT: FormatError, MZ_EINVAL: InvalidError,
            MZ_EUNSUPPORTED: UnsupportedError}


class MzError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


def check(status, err):
    """Raises the exception for a failed call's status and its error's message."""
    if status != MZ_OK:
        msg = err.msg.decode("utf-8", "replace")
        raise _CLASSES.get(status, Error)(status, msg)


def enc(s):
    return None if s is None else os.fsencode(s) if isinstance(s, os.PathLike) else \
        s.encode("utf-8")


# ---- structures (include/mzoo/core.h, loader.h, eval.h) ----
MZ_MAX_DIMS = 4
MZ_TENSOR_NAME_MAX = 64
MZ_VEC_MAX_LAYERS = 32


class TensorDesc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * MZ_TENSOR_NAME_MAX), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * MZ_MAX_DIMS), ("offset", ctypes.c_int64),
                ("count", ctypes.c_int64)]


class LoaderOptions(ctypes.Structure):
    _fields_ = [("epochs", ctypes.c_char_p), ("layers", ctypes.c_char_p),
                ("with_bias", ctypes.c_int), ("drop_nonfinite", ctypes.c_int),
                ("max_abs", ctypes.c_double), ("where", ctypes.c_char_p),
                ("fractions", ctypes.c_double * 3), ("seed", ctypes.c_uint64),
                ("dense", ctypes.c_int), ("max_models", ctypes.c_int64)]


class LoaderCounts(ctypes.Structure):
    _fields_ = [("models_in_zoo", ctypes.c_int64), ("candidates", ctypes.c_int64),
                ("dropped_where", ctypes.c_int64), ("dropped_nonfinite", ctypes.c_int64),
                ("dropped_max_abs", ctypes.c_int64), ("dropped_max_models", ctypes.c_int64),
                ("samples", ctypes.c_int64), ("models", ctypes.c_int64 * 3),
                ("part_samples", ctypes.c_int64 * 3)]


class SampleInfo(ctypes.Structure):
    _fields_ = [("model_id", ctypes.c_int64), ("epoch", ctypes.c_int), ("part", ctypes.c_int),
                ("source", ctypes.c_int)]


class PropColumn(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 64), ("kind", ctypes.c_int),
                ("v", ctypes.POINTER(ctypes.c_double)), ("n_levels", ctypes.c_int),
                ("levels", ctypes.POINTER(ctypes.c_char_p))]


class VecLayer(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 16), ("type", ctypes.c_char * 8),
                ("module_index", ctypes.c_int), ("idx_start", ctypes.c_int64),
                ("idx_length", ctypes.c_int64), ("n_weights", ctypes.c_int64),
                ("n_bias", ctypes.c_int64), ("kernel_no", ctypes.c_int64),
                ("kernel_size", ctypes.c_int64), ("channels_in", ctypes.c_int64),
                ("ndim", ctypes.c_int), ("shape", ctypes.c_int64 * MZ_MAX_DIMS)]


class VecSource(ctypes.Structure):
    _fields_ = [("variant", ctypes.c_char * 64), ("n_params", ctypes.c_int64),
                ("module_index", ctypes.c_int * MZ_VEC_MAX_LAYERS),
                ("weight_key", (ctypes.c_char * MZ_TENSOR_NAME_MAX) * MZ_VEC_MAX_LAYERS),
                ("bias_key", (ctypes.c_char * MZ_TENSOR_NAME_MAX) * MZ_VEC_MAX_LAYERS),
                ("w_off", ctypes.c_int64 * MZ_VEC_MAX_LAYERS),
                ("b_off", ctypes.c_int64 * MZ_VEC_MAX_LAYERS),
                ("s_off", ctypes.c_int64 * MZ_VEC_MAX_LAYERS),
                ("sb_off", ctypes.c_int64 * MZ_VEC_MAX_LAYERS)]


class VecLayout(ctypes.Structure):
    _fields_ = [("n_layers", ctypes.c_int), ("layers", VecLayer * MZ_VEC_MAX_LAYERS),
                ("with_bias", ctypes.c_int), ("dim", ctypes.c_int64),
                ("prune", ctypes.c_int), ("n_sources", ctypes.c_int), ("sources", ctypes.POINTER(VecSource))]


class Split(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64), ("x", ctypes.POINTER(ctypes.c_uint8)),
                ("y", ctypes.POINTER(ctypes.c_int32))]


class Dataset(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 32), ("c", ctypes.c_int), ("h", ctypes.c_int),
                ("w", ctypes.c_int), ("n_classes", ctypes.c_int), ("mean", ctypes.c_float * 3),
                ("std", ctypes.c_float * 3), ("lut", (ctypes.c_float * 256) * 3),
                ("train", Split), ("val", Split), ("test", Split),
                ("source", ctypes.c_char * 512)]


class EvalOptions(ctypes.Structure):
    _fields_ = [("data_dir", ctypes.c_char_p), ("dataset", ctypes.c_void_p),
                ("backend", ctypes.c_char_p), ("batch", ctypes.c_int),
                ("max_images", ctypes.c_int64)]


class EvalResult(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64), ("loss", ctypes.c_double), ("acc", ctypes.c_double),
                ("sparsity", ctypes.c_double)]


# every mirrored structure, by its C name (for the ABI test)
STRUCTS = {"mz_error": MzError, "mz_tensor_desc": TensorDesc,
           "mz_loader_options": LoaderOptions, "mz_loader_counts": LoaderCounts,
           "mz_sample_info": SampleInfo, "mz_prop_column": PropColumn,
           "mz_vec_layer": VecLayer, "mz_vec_source": VecSource, "mz_vec_layout": VecLayout,
           "mz_split": Split, "mz_dataset": Dataset, "mz_eval_options": EvalOptions,
           "mz_eval_result": EvalResult}

# ---- functions ----
P = ctypes.POINTER
c_void_p, c_char_p, c_int, c_int64 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int64
_float_p = P(ctypes.c_float)


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


mz_strerror = _fn("mz_strerror", c_char_p, c_int)
mz_free = ctypes.CDLL(None).free
mz_free.argtypes = [c_void_p]
mz_free.restype = None
# store.h
mz_store_open = _fn("mz_store_open", c_int, P(c_void_p), c_char_p, c_int, P(MzError))
mz_store_close = _fn("mz_store_close", None, c_void_p)
mz_store_schema_version = _fn("mz_store_schema_version", c_int, c_void_p)
mz_store_read_weights = _fn("mz_store_read_weights", c_int, c_void_p, c_int64, c_int, _float_p,
                            c_int64, P(MzError))
mz_store_layout = _fn("mz_store_layout", c_int, c_void_p, c_char_p, P(P(TensorDesc)), P(c_int),
                      P(c_int64), P(MzError))
# loader.h
mz_loader_options_default = _fn("mz_loader_options_default", None, P(LoaderOptions))
mz_loader_open = _fn("mz_loader_open", c_int, P(c_void_p), c_char_p, P(LoaderOptions),
                     P(MzError))
mz_loader_close = _fn("mz_loader_close", None, c_void_p)
mz_loader_layout = _fn("mz_loader_layout", P(VecLayout), c_void_p)
mz_loader_get_counts = _fn("mz_loader_get_counts", P(LoaderCounts), c_void_p)
mz_loader_n_samples = _fn("mz_loader_n_samples", c_int64, c_void_p)
mz_loader_samples = _fn("mz_loader_samples", P(SampleInfo), c_void_p)
mz_loader_props = _fn("mz_loader_props", P(PropColumn), c_void_p, P(c_int))
mz_loader_read = _fn("mz_loader_read", c_int, c_void_p, c_int64, _float_p, P(MzError))
mz_vec_layout_write_json = _fn("mz_vec_layout_write_json", c_int, P(VecLayout), c_char_p,
                               P(MzError))
# probe.h
mz_stats_dim = _fn("mz_stats_dim", c_int64, P(VecLayout))
mz_stats_features = _fn("mz_stats_features", None, P(VecLayout), _float_p, P(ctypes.c_double),
                        P(ctypes.c_double))
mz_stats_feature_name = _fn("mz_stats_feature_name", None, P(VecLayout), c_int64, c_char_p,
                            ctypes.c_size_t)
# eval.h
mz_eval_options_default = _fn("mz_eval_options_default", None, P(EvalOptions))
mz_evaluator_open = _fn("mz_evaluator_open", c_int, P(c_void_p), c_char_p, P(EvalOptions),
                        P(MzError))
mz_evaluator_close = _fn("mz_evaluator_close", None, c_void_p)
mz_evaluator_dataset = _fn("mz_evaluator_dataset", c_int, c_void_p, P(P(Dataset)), P(MzError))
mz_evaluator_checkpoint = _fn("mz_evaluator_checkpoint", c_int, c_void_p, c_int64, c_int, c_int,
                              P(EvalResult), P(MzError))
mz_evaluator_checkpoints = _fn("mz_evaluator_checkpoints", c_int, c_void_p, c_int64, P(c_int64),
                               P(c_int), c_int, P(EvalResult), P(MzError))
mz_evaluator_weights = _fn("mz_evaluator_weights", c_int, c_void_p, c_int64, _float_p, c_int64,
                           c_int, P(EvalResult), P(MzError))
mz_ard_prune = _fn("mz_ard_prune", c_int, P(TensorDesc), c_int, _float_p, P(TensorDesc), c_int,
                   _float_p, P(c_int64), P(c_int64), P(MzError))
