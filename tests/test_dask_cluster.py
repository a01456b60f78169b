"""fastconv.dask on a real cluster: a distributed.LocalCluster of worker processes.

Two workers of one thread each (this machine's two cores), as a user's
laptop cluster would be; a second cluster whose workers have 512 MiB each
runs a stack of images three times larger than that out of core; a worker
killed mid-graph loses no result.
"""

import logging
import os
import signal
import time
import warnings

import numpy as np
import pytest

import fastconv
import fastconv.dask as fd
from fastconv import nn
from fastconv.tools.train import build_lenet, load_digits_split
from tests.helpers import assert_same, randn, rng
from tests.test_dask import assert_chunked_close

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def _cluster(**kw):
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
        **kw,
    )


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as c:
        yield c


def test_cluster_results_equal_numpy_fastconv(client):
    gen = rng(10)
    x = randn(gen, (16, 3, 40, 40), np.float32)
    w = randn(gen, (8, 3, 3, 3), np.float32)
    b = randn(gen, (8,), np.float32)
    dx = da.from_array(x, chunks=(4, 3, 20, 20))
    y = fd.conv2d(dx, w, b, padding=1)
    p, idx = fd.max_pool2d(y, 3, 2, 1, return_indices=True)
    a = fd.avg_pool2d(y, 2)
    got_y, got_p, got_idx, got_a = client.compute([y, p, idx, a], sync=True)
    ref_y = fastconv.conv2d(x, w, b, padding=1)
    assert_chunked_close(got_y, ref_y)
    # pooling compared on the cluster's own conv output: data movement, exact
    ref_p, ref_idx = fastconv.max_pool2d(got_y, 3, 2, 1, return_indices=True)
    assert_same(got_p, ref_p)
    assert_same(got_idx, ref_idx)
    assert_chunked_close(got_a, fastconv.avg_pool2d(got_y, 2))
    # each worker ran fastconv on one thread: the cluster is the parallelism
    counts = client.run(fastconv.get_num_threads)
    assert len(counts) == 2 and set(counts.values()) == {1}


def test_cases_computed_one_after_another_on_one_cluster(client):
    # a cluster keeps results by key: the output keys were once one fixed name
    # per function, so a second call read the first one's blocks (this case,
    # after others: "could not broadcast input array")
    gen = rng(14)
    x = randn(gen, (3, 4, 26, 19), np.float64)
    w = randn(gen, (4, 2, 3, 2), np.float64)
    chunks = [(3, 4, (10, 8, 8), (6, 7, 6)), (3, 4, (13, 13), (5, 5, 5, 4))]
    for ch in chunks:
        for pad in [(1, 2, 0, 1), (0, 1, 1, 2)]:
            kw = dict(stride=(2, 1), padding=pad, dilation=(1, 2), groups=2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fd.RechunkWarning)
                y = fd.conv2d(da.from_array(x, chunks=ch), w, **kw)
            assert_chunked_close(
                client.compute(y, sync=True), fastconv.conv2d(x, w, **kw)
            )


def test_data_parallel_sgd_step_on_the_digits_network(client):
    # the digits network's first conv layer: the gradient reaching it from the
    # loss (the rest of the network on the client), then its gradients over a
    # batch chunked across the workers equal the single-machine ones
    x_train, y_train, _, _ = load_digits_split(rng(0))
    x, labels = x_train[:256], y_train[:256]
    model = build_lenet(rng=rng(1), dropout=0.0)
    conv, rest = model.layers[0], nn.Sequential(*model.layers[1:])
    loss = nn.SoftmaxCrossEntropy()
    loss.forward(rest.forward(conv.forward(x)), labels)
    gy = rest.backward(loss.backward())
    w, opts = conv.params["weight"], conv._options()
    ref = fastconv.conv2d_backward(gy, x, w, **opts)
    dx = da.from_array(x, chunks=(32,) + x.shape[1:])
    dgy = da.from_array(gy, chunks=(32,) + gy.shape[1:])
    got = client.compute(list(fd.conv2d_backward(dgy, dx, w, **opts)), sync=True)
    for g, r in zip(got, ref):
        assert_chunked_close(g, r)
    # one SGD step with them: the same weights within the bound
    lr = np.float32(0.1)
    assert_chunked_close(w - lr * got[1], w - lr * ref[1])


def test_killing_a_worker_mid_graph_loses_no_data(client):
    gen = rng(11)
    x = randn(gen, (64, 8, 48, 48), np.float32)
    w = randn(gen, (16, 8, 3, 3), np.float32)
    dx = da.from_array(x, chunks=(2, 8, 48, 48))
    y = fd.max_pool2d(fd.conv2d(dx, w, padding=1), 2).sum(axis=(2, 3))
    future = client.compute(y)
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    # kill one worker process once tasks are running (from the test, by pid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(client.processing().values()):
        time.sleep(0.01)
    assert not future.done()  # killed while the graph runs
    os.kill(pids[victim], signal.SIGKILL)
    got = future.result(timeout=120)
    ref = fastconv.max_pool2d(fastconv.conv2d(x, w, padding=1), 2).sum(axis=(2, 3))
    assert_chunked_close(got, ref)
    # the killed worker is gone (its nanny started another in its place)
    assert pids[victim] not in client.run(os.getpid).values()


def test_out_of_core_stack_larger_than_the_workers_memory(tmp_path):
    # 1.5 GB of float32 images on disk, workers of 512 MiB: conv2d ->
    # max_pool2d -> a reduction, nothing but the (N, F) result on the client
    N, H, W = 5760, 256, 256  # 1.51 GB
    stack = tmp_path / "stack"
    w = randn(rng(12), (2, 1, 3, 3), np.float32)
    with _cluster(memory_limit="512MiB") as cluster, distributed.Client(cluster) as c:
        images = da.random.default_rng(13).standard_normal(
            (N, 1, H, W), dtype=np.float32, chunks=(64, 1, H, W)
        )
        c.compute(da.to_npy_stack(str(stack), images, axis=0), sync=True)
        pids = set(c.run(os.getpid).values())
        x = da.from_npy_stack(str(stack), mmap_mode="r")
        assert x.nbytes > 1.5e9 and x.chunks[0] == (64,) * (N // 64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no rechunking on the way
            feats = fd.max_pool2d(fd.conv2d(x, w, padding=1), 2).max(axis=(2, 3))
        got = c.compute(feats, sync=True)
        # no worker was killed by its memory limit
        assert set(c.run(os.getpid).values()) == pids
    assert got.shape == (N, 2)
    for k in range(N // 64):  # every chunk against single-machine fastconv
        part = np.load(stack / f"{k}.npy")
        ref = fastconv.max_pool2d(fastconv.conv2d(part, w, padding=1), 2).max(axis=(2, 3))
        assert_same(got[64 * k : 64 * (k + 1)], ref)


def test_an_in_process_cluster_leaves_the_users_thread_count_alone():
    # workers in the user's process (threads) must not change the process-wide
    # setting that the user's own calls run with
    before = fastconv.get_num_threads()
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
    ) as c:
        x = da.ones((4, 2, 8, 8), chunks=(1, 2, 8, 8))
        c.compute(fd.max_pool2d(x, 2), sync=True)
    assert fastconv.get_num_threads() == before
