"""mzoo's PyTorch side: the reference architectures, checkpoints as modules (whose outputs
reproduce the zoo's recorded metrics and libmzoo's evaluation), and WeightDataset in a
DataLoader. Skipped, saying so, where PyTorch is not installed (apt-get install python3-torch)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (python3-torch)")
import mzoo  # noqa: E402
import mzoo.torch as mt  # noqa: E402


def n_params(net, trainable=True):
    if trainable:
        return sum(p.numel() for p in net.parameters())
    return sum(v.numel() for v in net.state_dict().values())


def test_reference_architectures():
    assert n_params(mt.cnn_s(1)) == 2464 and n_params(mt.cnn_s(3)) == 2864
    assert n_params(mt.cnn_l(1)) == 10565 and n_params(mt.cnn_l(3)) == 10853
    for k, trainable, total in ((10, 11173962, 11183582), (100, 11220132, 11229752),
                                (200, 11271432, 11281052)):
        net = mt.resnet18(3, k)
        assert n_params(net) == trainable and n_params(net, False) == total
        assert len(net.state_dict()) == 122
    # CNN-s: dropout modules only when dropout > 0, shifting the indices
    assert [k for k in mt.cnn_s(1).state_dict()][::2] == \
        [f"module_list.{i}.weight" for i in (0, 3, 6, 9, 11)]
    assert [k for k in mt.cnn_s(1, dropout=0.5).state_dict()][::2] == \
        [f"module_list.{i}.weight" for i in (0, 4, 8, 11, 14)]
    assert [k for k in mt.cnn_l(1).state_dict()][::2] == \
        [f"module_list.{i}.weight" for i in (0, 4, 8, 13, 16)]
    # max-pool before the activation
    s = mt.cnn_s(1, "relu")
    assert isinstance(s.module_list[1], torch.nn.MaxPool2d)
    assert isinstance(s.module_list[2], torch.nn.ReLU)
    assert mt.cnn_s(1)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert mt.cnn_l(3)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="activation 'tanhh'"):
        mt.cnn_s(1, "tanhh")


def forward(net, x, batch=2000):
    with torch.no_grad():
        return torch.cat([net(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)])


def loss_acc(logits, y):
    y = torch.from_numpy(y)
    loss = torch.nn.functional.cross_entropy(logits.double(), y).item()
    return loss, (logits.argmax(1) == y).double().mean().item()


def test_modules_reproduce_the_recorded_test_metrics(grid_zoo):
    with mzoo.open(grid_zoo) as zoo:
        x, y = zoo.images("test")
        for m in zoo.models[::5]:  # both layout variants
            for epoch in (0, 1):
                net = zoo.module(m["id"], epoch)
                assert not net.training
                assert isinstance(net.module_list[3], torch.nn.Dropout) == (m["dropout"] > 0)
                rec = zoo.metrics(models=m["id"], epochs=epoch)[0]
                loss, acc = loss_acc(forward(net, x), y)
                # equal up to argmax flips of near-ties from float rounding
                assert abs(acc - rec["test_acc"]) <= 2e-4, (m["id"], epoch, acc, rec["test_acc"])
                assert loss == pytest.approx(rec["test_loss"], rel=1e-5)


@pytest.mark.parametrize("fixture,images", [("cnnl_zoo", 1000), ("resnet_zoo", 48)])
def test_modules_agree_with_libmzoo(request, fixture, images):
    with mzoo.open(request.getfixturevalue(fixture)) as zoo:
        x, y = zoo.images("test", max_images=images)
        for mid in (0, 1):
            net = zoo.module(mid, 1)
            loss, acc = loss_acc(forward(net, x, 16), y)
            r = zoo.evaluate(mid, 1, max_images=images)
            assert abs(acc - r.acc) <= 1.01 / images and loss == pytest.approx(r.loss, rel=1e-4)


def test_state_dict_as_tensors(resnet_zoo, grid_zoo):
    with mzoo.open(resnet_zoo) as zoo:
        sd = zoo.state_dict(0, 1, torch=True)
        t = sd["layer1.0.bn1.num_batches_tracked"]
        assert t.dtype == torch.int64 and t.shape == () and t.item() == 7
        assert sd["fc.weight"].dtype == torch.float32 and sd["fc.weight"].shape == (10, 512)
        mt.resnet18(1, 10).load_state_dict(sd, strict=True)
    with mzoo.open(grid_zoo) as zoo:
        sd = zoo.state_dict(11, 1, torch=True)  # dropout 0.5
        mt.cnn_s(1, dropout=0.5).load_state_dict(sd, strict=True)
        with pytest.raises(RuntimeError, match="module_list.3.weight"):
            mt.cnn_s(1).load_state_dict(sd, strict=True)  # the dropout index shift


def test_twin_modules_are_the_pruned_networks(twin_zoo):
    with mzoo.open(twin_zoo) as zoo:
        x, y = zoo.images("test")
        net = zoo.module(1, 1)
        pruned = zoo.state_dict(1, 1, pruned=True)
        for k, v in net.state_dict().items():
            assert np.array_equal(v.numpy(), pruned[k]), k
        _, acc = loss_acc(forward(net, x), y)
        r = zoo.evaluate(1, 1)
        assert abs(acc - r.acc) <= 2e-4 and 0.3 < r.sparsity < 0.7


def test_imported_modules(imported_zoo):
    with mzoo.open(imported_zoo) as zoo:
        with pytest.raises(ValueError, match="pass activation="):
            zoo.module(1, 1)
        net = zoo.module(1, 1, activation="tanh")
        assert isinstance(net.module_list[2], torch.nn.Tanh)
        with pytest.raises(mzoo.NotFoundError, match="has no weights"):
            zoo.module(0, 1)


def test_weight_dataset_in_a_dataloader(grid_zoo):
    with mzoo.open(grid_zoo) as zoo:
        ds = zoo.dataset()
    wd = mt.WeightDataset(ds, "train", targets=["test_acc", "dropout"])
    assert len(wd) == len(ds.indices("train"))
    # two worker processes, each with its own reader of the zoo
    loader = torch.utils.data.DataLoader(wd, batch_size=3, num_workers=2)
    xs, ys = zip(*loader)
    assert np.array_equal(torch.cat(xs).numpy(), ds.x("train"))
    want = np.stack([ds.y("test_acc", "train"), ds.y("dropout", "train")], 1)
    assert np.allclose(torch.cat(ys).numpy(), want.astype(np.float32))
    one = mt.WeightDataset(ds, "test", targets="test_acc")
    x0, y0 = one[0]
    assert x0.shape == (2464,) and y0.shape == () and y0.dtype == torch.float32
    cat = mt.WeightDataset(ds, None, targets="activation")
    assert cat.y.dtype == torch.int64 and set(cat.y.tolist()) == {0}
    with pytest.raises(KeyError, match="property 'accuracy'"):
        mt.WeightDataset(ds, targets="accuracy")
