#!/usr/bin/env python3
"""PyTorch reference side of mzoo's training-speed benchmark (protocol: bench/README.md).

It times what the reference (ModelZoos/ModelZooDataset, PyTorch + Ray Tune, cpu_per_trial 1) does
for one zoo model: training steps at batch 10 and evaluation of images in eval mode, with one
single-threaded process per core, all started together. For each configuration it prints one JSON
line with t_step, t_eval_img, the composed models_per_hour, the FLOP counts, peak RSS and the
environment. Progress goes to stderr.

The config mnist-vd times the sparsified twins (original-system.md section 6): the reference's
variational-dropout CNN_ARD (LinearARD / Conv2dARD layers, local reparameterisation, KL term)
trained as its NN_tune_trainable_from_checkpoint does, 25 epochs, batch 10, FastTensorDataLoader.

Usage: python3 bench/torch_reference.py [--quick] [--configs fmnist-seed,fmnist-hyp,cifar-cnnl,mnist-vd]
                                        [--procs N] [--steps N] [--warmup N]
The worker processes are this same script with --worker (internal).
"""
import argparse
import itertools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

# ---------------------------------------------------------------------------------------------
# Configurations (the zoos of original-system.md §4.3).  A "variant" is one model's settings.

SEED_FMNIST = dict(act="tanh", init="uniform", opt="adam", lr=3e-4, wd=0.0, dropout=0.0)
SEED_CIFAR_L = dict(act="gelu", init="kaiming_uniform", opt="adam", lr=1e-4, wd=1e-2, dropout=0.0)
# sparsified twins (MNIST): the inherited settings of the first trial, kl_weight in 0 .. 0.0096
SEED_MNIST_VD = dict(act="tanh", init="uniform", opt="adam", lr=3e-4, wd=0.0, dropout=0.0,
                     kl_weight=0.005)

ACTS = ["tanh", "relu", "sigmoid", "gelu"]
INITS = ["uniform", "normal", "kaiming_uniform", "kaiming_normal"]
LRS = [1e-3, 1e-4]
WDS = [1e-3, 1e-4]


def hyp_variants():
    """The 16 timing classes of the F-MNIST hyperparameter grid.

    The grid is A4 x dropout{0, 0.5} x I4 x {adam, sgd(momentum 0.9)} x lr{1e-3, 1e-4} x
    wd{1e-3, 1e-4} (256 settings x 10 seeds).  Only activation, dropout and optimiser change the
    work done per step (init, lr and wd change values, not operations; wd is never 0 here), and
    each of the 4 x 2 x 2 = 16 (activation, dropout, optimiser) classes holds exactly 1/16 of the
    grid, so the plain mean over these 16 variants is the grid-average cost.  Init, lr and wd are
    still varied across the variants (each activation sees all four inits) so that value-dependent
    effects (saturation, denormals) are sampled too.
    """
    out = []
    for i, (act, dropout, opt) in enumerate(itertools.product(ACTS, [0.0, 0.5], ["adam", "sgd"])):
        out.append(dict(act=act, dropout=dropout, opt=opt, init=INITS[i % 4],
                        lr=LRS[(i // 4) % 2], wd=WDS[(i // 2) % 2]))
    return out


CONFIGS = {
    "fmnist-seed": dict(arch="CNN", channels=1, size=28, n_train=50000, n_val=10000,
                        n_test=10000, epochs=50, variants=[SEED_FMNIST]),
    "fmnist-hyp": dict(arch="CNN", channels=1, size=28, n_train=50000, n_val=10000,
                       n_test=10000, epochs=50, variants=hyp_variants()),
    "cifar-cnnl": dict(arch="CNN3", channels=3, size=32, n_train=42000, n_val=8000,
                       n_test=10000, epochs=50, variants=[SEED_CIFAR_L]),
    # the twins of the MNIST seed zoo: 25 epochs; the twins' trainable has no val split
    "mnist-vd": dict(arch="CNN_ARD", channels=1, size=28, n_train=50000, n_val=0,
                     n_test=10000, epochs=25, variants=[SEED_MNIST_VD]),
}
BATCH = 10


def steps_per_model(cfg):
    return cfg["epochs"] * math.ceil(cfg["n_train"] / BATCH)


def eval_images_per_model(cfg):
    """Epoch 0 evaluates train, val and test; every later epoch evaluates val and test."""
    return (cfg["n_train"] + cfg["n_val"] + cfg["n_test"]
            + cfg["epochs"] * (cfg["n_val"] + cfg["n_test"]))


# ---------------------------------------------------------------------------------------------
# Models, written from the reference's description (original-system.md §1.1, §1.3, §2).

def build_model(torch, arch, channels, v):
    nn = torch.nn

    def act():
        return {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
                "leakyrelu": nn.LeakyReLU, "silu": nn.SiLU}[v["act"]]()

    p = v["dropout"]
    layers = []
    if arch == "CNN":  # CNN-s: dropout modules only when p > 0
        drop = (lambda: [nn.Dropout(p)]) if p > 0 else (lambda: [])
        layers += [nn.Conv2d(channels, 8, 5), nn.MaxPool2d(2, 2), act()] + drop()
        layers += [nn.Conv2d(8, 6, 5), nn.MaxPool2d(2, 2), act()] + drop()
        layers += [nn.Conv2d(6, 4, 2), act(), nn.Flatten(), nn.Linear(36, 20), act()] + drop()
        layers += [nn.Linear(20, 10)]
    elif arch == "CNN3":  # CNN-l: dropout modules always present
        layers += [nn.Conv2d(channels, 16, 3), nn.MaxPool2d(2, 2), act(), nn.Dropout(p)]
        layers += [nn.Conv2d(16, 32, 3), nn.MaxPool2d(2, 2), act(), nn.Dropout(p)]
        layers += [nn.Conv2d(32, 15, 3), nn.MaxPool2d(2, 2), act(), nn.Dropout(p)]
        layers += [nn.Flatten(), nn.Linear(60, 20), act(), nn.Dropout(p), nn.Linear(20, 10)]
    else:
        raise ValueError(f"unknown architecture {arch}")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.module_list = nn.ModuleList(layers)

        def forward(self, x):
            for layer in self.module_list:
                x = layer(x)
            return x

    net = Net()
    init = {"uniform": nn.init.uniform_, "normal": nn.init.normal_,
            "kaiming_uniform": nn.init.kaiming_uniform_,
            "kaiming_normal": nn.init.kaiming_normal_,
            "xavier_uniform": nn.init.xavier_uniform_,
            "xavier_normal": nn.init.xavier_normal_}.get(v["init"])
    for m in net.module_list:
        if type(m) in (nn.Conv2d, nn.Linear):
            if init is not None:
                init(m.weight)
            m.bias.data.fill_(0.01)
    return net


def build_ard_model(torch, channels, v):
    """The reference's CNN_ARD (def_net_distillation.py, original-system.md section 6.1): CNN-s
    with Conv2dARD / LinearARD layers. The noise is drawn with randn_like (the reference's
    torch.normal(zeros_like, ones_like) allocates two more tensors: this is slightly faster)."""
    nn = torch.nn
    F = torch.nn.functional
    k1, k2, k3 = 0.63576, 1.8732, 1.48695

    def neg_kl(la):
        return k1 * torch.sigmoid(k2 + k3 * la) - 0.5 * torch.log1p(torch.exp(-la)) - k1

    class LinearARD(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight = nn.Parameter(torch.Tensor(o, i).normal_(0, 0.02))
            self.bias = nn.Parameter(torch.zeros(o))
            self.log_sigma2 = nn.Parameter(torch.full((o, i), -10.0))
            self.log_sigma2_bias = nn.Parameter(torch.full((o,), -10.0))  # unused

        @property
        def log_alpha(self):
            return torch.clamp(self.log_sigma2 - 2 * torch.log(torch.abs(self.weight) + 1e-15),
                               -10, 10)

        def forward(self, x):
            if not self.training:
                w = torch.where(self.log_alpha >= 3, torch.zeros_like(self.weight), self.weight)
                return F.linear(x, w, self.bias)
            mu = x.matmul(self.weight.t())
            si = torch.sqrt((x * x).matmul((torch.exp(self.log_alpha) * self.weight
                                            * self.weight).t()) + 1e-15)
            return mu + torch.randn_like(mu) * si + self.bias

        def get_reg(self):
            return -torch.sum(neg_kl(self.log_alpha))

    class Conv2dARD(nn.Conv2d):
        def __init__(self, i, o, k):
            super().__init__(i, o, k)
            self.log_sigma2 = nn.Parameter(-10 * torch.ones_like(self.weight))
            self.log_sigma2_bias = nn.Parameter(-10 * torch.ones_like(self.bias))

        def _la(self, ls2, w):
            return torch.clamp(ls2 - 2 * torch.log(torch.abs(w) + 1e-15), -8, 8)

        def forward(self, x):
            la, lab = self._la(self.log_sigma2, self.weight), self._la(self.log_sigma2_bias, self.bias)
            if not self.training:
                w = torch.where(la >= 3, torch.zeros_like(self.weight), self.weight)
                b = torch.where(lab >= 3, torch.zeros_like(self.bias), self.bias)
                return F.conv2d(x, w, b)
            mu = F.conv2d(x, self.weight, self.bias)
            si = torch.sqrt(1e-15 + F.conv2d(x * x, torch.exp(la) * self.weight * self.weight,
                                             torch.exp(lab) * self.bias * self.bias))
            return mu + si * torch.randn_like(mu)

        def get_reg(self):
            return (-torch.sum(neg_kl(self._la(self.log_sigma2, self.weight)))
                    - torch.sum(neg_kl(self._la(self.log_sigma2_bias, self.bias))))

    def act():
        return {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}[v["act"]]()

    layers = [Conv2dARD(channels, 8, 5), nn.MaxPool2d(2, 2), act(),
              Conv2dARD(8, 6, 5), nn.MaxPool2d(2, 2), act(),
              Conv2dARD(6, 4, 2), act(), nn.Flatten(), LinearARD(36, 20), act(), LinearARD(20, 10)]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.module_list = nn.ModuleList(layers)
            self.kl_weight = v["kl_weight"]

        def forward(self, x):
            for layer in self.module_list:
                x = layer(x)
            return x

        def get_reg(self):
            return sum(m.get_reg() for m in self.module_list if hasattr(m, "get_reg"))

    # the twin starts from a plain model's checkpoint: weights as the zoo's init, biases 0.01
    net = Net()
    plain = build_model(torch, "CNN", channels, dict(v, dropout=0.0))
    with torch.no_grad():
        for m, pm in zip(net.module_list, plain.module_list):
            if hasattr(m, "get_reg"):
                m.weight.copy_(pm.weight)
                m.bias.copy_(pm.bias)
    return net


def build_optimizer(torch, net, v):
    if v["opt"] == "adam":
        return torch.optim.Adam(net.parameters(), lr=v["lr"], weight_decay=v["wd"])
    if v["opt"] == "sgd":
        return torch.optim.SGD(net.parameters(), lr=v["lr"], momentum=0.9, weight_decay=v["wd"],
                               nesterov=False)
    raise ValueError(f"unknown optimiser {v['opt']}")


def count_flops(torch, arch, channels, size):
    """Multiply-add counts of one image through conv and linear layers, from the model itself.

    forward  = sum over conv/linear layers of output elements x (in_ch/groups x kh x kw | in)
    backward = weight gradient (same as forward, every layer)
               + input gradient (same as forward, every layer except the first, whose input
                 needs no gradient)
    FLOP = 2 x multiply-adds.  Bias adds, pooling, activations, softmax/loss and the optimiser
    update are elementwise and left out (a few percent of the forward count; see README).
    Twins (CNN_ARD): a training step counts twice (the mean and the variance convolutions, in
    both directions); eval is the plain forward on clipped weights.
    """
    nn = torch.nn
    ard = arch == "CNN_ARD"
    net = build_model(torch, "CNN" if ard else arch, channels, dict(act="tanh", init="",
                                                                     dropout=0.0))
    macs = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:
            k = m.in_features
        macs.append(out.numel() * k)

    for m in net.module_list:
        if type(m) in (nn.Conv2d, nn.Linear):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.zeros(1, channels, size, size))
    fwd = sum(macs)
    bwd = fwd + sum(macs[1:])
    k = 2 if ard else 1
    return dict(macs_per_layer=macs, flops_eval_img=2 * fwd, flops_train_img=k * 2 * (fwd + bwd),
                flops_step=k * 2 * (fwd + bwd) * BATCH)


# ---------------------------------------------------------------------------------------------
# Worker: one of the n_procs concurrent processes.

class ShuffledBatches:
    """The reference's FastTensorDataLoader with shuffle: a fresh randperm per pass over the set,
    batches gathered with index_select; cycles forever (a new epoch starts when one ends)."""

    def __init__(self, torch, x, y, batch):
        self.torch, self.x, self.y, self.batch = torch, x, y, batch
        self.n = x.shape[0]
        self.i = self.n

    def next(self):
        if self.i >= self.n:
            self.perm = self.torch.randperm(self.n)
            self.i = 0
        idx = self.perm[self.i:self.i + self.batch]
        self.i += self.batch
        return self.torch.index_select(self.x, 0, idx), self.torch.index_select(self.y, 0, idx)


def train_step(torch, net, opt, crit, x, y):
    """One step exactly as the reference's NNmodule.train_step (Version B), including the
    host-side loss and accuracy bookkeeping it does every step. Twins (net.kl_weight): the loss
    is the ELBO, cross_entropy(logits, y) + kl_weight * KL, as NNmoduleARD's."""
    opt.zero_grad()
    if hasattr(net, "kl_weight"):
        out = net(x)
        loss = torch.nn.functional.cross_entropy(out, y) + net.kl_weight * net.get_reg()
    else:
        out = torch.nn.functional.log_softmax(net(x), dim=1)
        loss = crit(out, y)
    loss.backward()
    opt.step()
    _, pred = torch.max(out.data, 1)
    correct = (pred == y).sum().item()
    return loss.item(), correct


def eval_batch(torch, net, crit, x, y):
    """The reference's test_step: no_grad forward, loss and accuracy (twins: eval mode is the
    clipped forward, and the test loss includes the KL term)."""
    with torch.no_grad():
        if hasattr(net, "kl_weight"):
            out = net(x)
            loss = torch.nn.functional.cross_entropy(out, y) + net.kl_weight * net.get_reg()
        else:
            out = torch.nn.functional.log_softmax(net(x), dim=1)
            loss = crit(out, y)
        _, pred = torch.max(out.data, 1)
        correct = (pred == y).sum().item()
    return loss.item(), correct


def barrier(tag):
    """Tell the parent we reached `tag`, then wait until it releases every worker."""
    sys.stdout.write(f"READY {tag}\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line.startswith("GO"):
        sys.exit(f"torch_reference worker: expected GO, got {line!r}")


def worker(args):
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    cfg = CONFIGS[args.worker]
    rank, nprocs = args.rank, args.procs
    variants = cfg["variants"]
    nv = len(variants)
    # Concurrent processes start at different places in the variant list, as the trials of a
    # mixed zoo would be running different settings at the same time.
    order = [(rank * nv // nprocs + k) % nv for k in range(nv)]
    C, S = cfg["channels"], cfg["size"]

    torch.manual_seed(1000 + rank)
    xtr = torch.randn(cfg["n_train"], C, S, S)
    ytr = torch.randint(0, 10, (cfg["n_train"],))
    xte = torch.randn(cfg["n_test"], C, S, S)
    yte = torch.randint(0, 10, (cfg["n_test"],))
    # The val set is held in memory as in the reference (it counts towards peak RSS); its
    # evaluation costs the same per image as the test set's, which is what is timed.
    val = (torch.randn(cfg["n_val"], C, S, S), torch.randint(0, 10, (cfg["n_val"],)))
    crit = torch.nn.NLLLoss()
    loader = ShuffledBatches(torch, xtr, ytr, BATCH)

    nets = {}
    for vi in order:
        torch.manual_seed(vi + 1)  # NNmodule seeds torch before building the model
        if cfg["arch"] == "CNN_ARD":
            net = build_ard_model(torch, C, variants[vi])
        else:
            net = build_model(torch, cfg["arch"], C, variants[vi])
        nets[vi] = (net, build_optimizer(torch, net, variants[vi]))

    steps_v = max(1, args.steps // nv)
    warm_v = max(5, args.warmup // nv)

    # (a) training steps at batch 10
    barrier("train")
    t_step_v = {}
    for vi in order:
        net, opt = nets[vi]
        net.train()
        for _ in range(warm_v):
            train_step(torch, net, opt, crit, *loader.next())
        loss_acc, correct_acc = 0.0, 0
        t0 = time.perf_counter()
        for _ in range(steps_v):
            x, y = loader.next()
            loss, correct = train_step(torch, net, opt, crit, x, y)
            loss_acc += loss * len(y)
            correct_acc += correct
        t_step_v[vi] = (time.perf_counter() - t0) / steps_v
        net.eval()

    # (b) eval of the test set as ONE batch (the reference's FastTensorDataLoader test loader)
    barrier("eval")
    t_eval_v = {}
    passes_v = max(1, args.eval_passes // nv)
    pass_s = []
    for k, vi in enumerate(order):
        net, _ = nets[vi]
        net.eval()
        if k == 0:
            # Warm-up: the first full-size pass of a fresh process was up to 2x slower in some
            # runs; the reference pays that once in ~100 such passes per model.
            eval_batch(torch, net, crit, xte, yte)
        t0 = time.perf_counter()
        for _ in range(passes_v):
            t1 = time.perf_counter()
            eval_batch(torch, net, crit, xte, yte)
            pass_s.append(time.perf_counter() - t1)
        t_eval_v[vi] = (time.perf_counter() - t0) / (passes_v * cfg["n_test"])

    # (c) eval at batch 10 through the shuffled train loader (Version B's epoch-0 train metrics)
    barrier("eval_b10")
    t_eval_b10_v = {}
    b10_v = max(1, args.eval_b10_batches // nv)
    for vi in order:
        net, _ = nets[vi]
        net.eval()
        for _ in range(5):
            eval_batch(torch, net, crit, *loader.next())
        t0 = time.perf_counter()
        for _ in range(b10_v):
            eval_batch(torch, net, crit, *loader.next())
        t_eval_b10_v[vi] = (time.perf_counter() - t0) / (b10_v * BATCH)

    ru = resource.getrusage(resource.RUSAGE_SELF)
    res = dict(rank=rank, t_step=sum(t_step_v.values()) / nv,
               t_eval_img=sum(t_eval_v.values()) / nv,
               t_eval_img_b10=sum(t_eval_b10_v.values()) / nv,
               t_step_per_variant=[t_step_v[i] for i in range(nv)],
               t_eval_img_per_variant=[t_eval_v[i] for i in range(nv)],
               steps_timed=steps_v * nv, warmup_steps=warm_v * nv,
               eval_images_timed=passes_v * nv * cfg["n_test"], eval_pass_seconds=pass_s,
               splits_held=[len(ytr), len(val[0]), len(yte)],
               peak_rss_mb=ru.ru_maxrss / 1024.0,
               torch_threads=torch.get_num_threads(), torch=torch.__version__,
               mkldnn=bool(torch.backends.mkldnn.is_available()))
    sys.stdout.write("RESULT " + json.dumps(res) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Parent: start n_procs workers per configuration together, release them phase by phase.

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_config(name, args, env):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--procs",
           str(args.procs), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--eval-passes", str(args.eval_passes), "--eval-b10-batches",
           str(args.eval_b10_batches)]
    procs = [subprocess.Popen(cmd + ["--rank", str(r)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=env, text=True)
             for r in range(args.procs)]
    phase_t = {}
    try:
        for tag in ("train", "eval", "eval_b10"):
            for p in procs:
                line = p.stdout.readline()
                if line.strip() != f"READY {tag}":
                    raise RuntimeError(f"{name}: worker said {line!r}, expected READY {tag}")
            phase_t[tag] = time.perf_counter()
            for p in procs:
                p.stdin.write("GO\n")
                p.stdin.flush()
        results = []
        for p in procs:
            line = p.stdout.readline()
            if not line.startswith("RESULT "):
                raise RuntimeError(f"{name}: worker said {line!r}, expected RESULT")
            results.append(json.loads(line[len("RESULT "):]))
            if p.wait() != 0:
                raise RuntimeError(f"{name}: worker exited with {p.returncode}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    end = time.perf_counter()
    return results, dict(train_s=phase_t["eval"] - phase_t["train"],
                         eval_s=phase_t["eval_b10"] - phase_t["eval"],
                         eval_b10_s=end - phase_t["eval_b10"])


def compose(name, results, phases, args, env):
    import torch  # only for the FLOP count (one image through the model, in the parent)

    cfg = CONFIGS[name]
    n = len(results)
    t_step = sum(r["t_step"] for r in results) / n
    t_eval = sum(r["t_eval_img"] for r in results) / n
    t_eval_b10 = sum(r["t_eval_img_b10"] for r in results) / n
    spm, epm = steps_per_model(cfg), eval_images_per_model(cfg)
    t_model = spm * t_step + epm * t_eval
    mph = 3600.0 * n / t_model
    # Variant with the epoch-0 train-set evaluation at batch 10, as Version B's trainable does.
    t_model_b10 = spm * t_step + cfg["n_train"] * t_eval_b10 + (epm - cfg["n_train"]) * t_eval
    fl = count_flops(torch, cfg["arch"], cfg["channels"], cfg["size"])
    flops_model = spm * fl["flops_step"] + epm * fl["flops_eval_img"]
    nv = len(cfg["variants"])
    return dict(
        config=name, side="torch", arch=cfg["arch"], channels=cfg["channels"],
        image=cfg["size"], batch=BATCH, n_train=cfg["n_train"], n_val=cfg["n_val"],
        n_test=cfg["n_test"], epochs=cfg["epochs"], variants=cfg["variants"],
        n_procs=n, t_step=t_step, t_eval_img=t_eval, t_eval_img_b10=t_eval_b10,
        t_step_per_proc=[r["t_step"] for r in results],
        t_eval_img_per_proc=[r["t_eval_img"] for r in results],
        t_step_per_variant=[sum(r["t_step_per_variant"][i] for r in results) / n
                            for i in range(nv)],
        t_eval_img_per_variant=[sum(r["t_eval_img_per_variant"][i] for r in results) / n
                                for i in range(nv)],
        steps_timed_per_proc=results[0]["steps_timed"],
        warmup_steps_per_proc=results[0]["warmup_steps"],
        eval_images_timed_per_proc=results[0]["eval_images_timed"],
        eval_pass_seconds_per_proc=[r["eval_pass_seconds"] for r in results],
        steps_per_model=spm, eval_images_per_model=epm, seconds_per_model=t_model,
        models_per_hour=mph, models_per_hour_b10_epoch0=3600.0 * n / t_model_b10,
        flops_step=fl["flops_step"], flops_eval_img=fl["flops_eval_img"],
        macs_per_layer=fl["macs_per_layer"], flops_per_model=flops_model,
        gflops=flops_model * mph / 3600.0 / 1e9,
        peak_rss_mb=max(r["peak_rss_mb"] for r in results),
        peak_rss_mb_per_proc=[r["peak_rss_mb"] for r in results],
        phase_seconds=phases, torch=results[0]["torch"],
        torch_threads=results[0]["torch_threads"], mkldnn=results[0]["mkldnn"],
        quick=args.quick,
        env={k: env.get(k, "") for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                                          "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        python=platform.python_version(), cpu=cpu_model(), cpus=os.cpu_count(),
        loadavg_before=args.loadavg_before, loadavg_after=list(os.getloadavg()),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="comma-separated subset of " + ", ".join(CONFIGS))
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1,
                    help="concurrent single-threaded processes (default: one per CPU)")
    ap.add_argument("--steps", type=int, default=None,
                    help="timed training steps per process (default 2000, --quick 300)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed warm-up steps per process (default 200, --quick 50)")
    ap.add_argument("--eval-passes", type=int, default=None,
                    help="timed one-batch passes over the test set (default 3, --quick 1); "
                         "a config with V variants does max(1, passes // V) per variant")
    ap.add_argument("--eval-b10-batches", type=int, default=None,
                    help="timed batch-10 eval batches (default 1000, --quick 200)")
    ap.add_argument("--openblas-coretype", default="SkylakeX",
                    help="OPENBLAS_CORETYPE for the workers (default SkylakeX; '' keeps the "
                         "environment's value)")
    ap.add_argument("--quick", action="store_true", help="fewer steps, for testing the script")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    for k, full, quick in (("steps", 2000, 300), ("warmup", 200, 50), ("eval_passes", 3, 1),
                           ("eval_b10_batches", 1000, 200)):
        if getattr(args, k) is None:
            setattr(args, k, quick if args.quick else full)

    if args.worker:
        worker(args)
        return

    names = [c for c in args.configs.split(",") if c]
    for c in names:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r} (expected one of {', '.join(CONFIGS)})")
    env = dict(os.environ)
    # Debian's OpenBLAS does not recognise this CPU and falls back to a slower kernel unless told.
    if args.openblas_coretype:
        env["OPENBLAS_CORETYPE"] = args.openblas_coretype
    # What Ray Tune sets for a trial with 1 CPU; the worker also calls torch.set_num_threads(1).
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = "1"
    args.loadavg_before = list(os.getloadavg())
    for name in names:
        t0 = time.perf_counter()
        results, phases = run_config(name, args, env)
        out = compose(name, results, phases, args, env)
        print(json.dumps(out), flush=True)
        print(f"torch_reference: {name}: t_step {out['t_step'] * 1e3:.3f} ms, t_eval_img "
              f"{out['t_eval_img'] * 1e6:.2f} us, {out['models_per_hour']:.2f} models/h, "
              f"{out['gflops']:.2f} GFLOP/s, peak RSS {out['peak_rss_mb']:.0f} MB/proc "
              f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
