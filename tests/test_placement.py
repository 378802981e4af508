"""Where the ops of each script would run on a GPU machine, checked on any machine.

An op with no GPU kernel for its dtypes is put on the host by soft placement without a word; between
two device ops it costs every step a device → host → device round trip. So every op of each script's
training graph (with the in-training evaluation), the evaluation classifier's graph and the
`--generate` graph must have a GPU kernel, or be pinned to the host on purpose (HOST_ON_PURPOSE).
The Linux `tensorflow` wheel registers its CUDA kernels even where no GPU or driver is present, so
TensorFlow's kernel registry answers the question without a GPU.

A seed is read in host memory whatever device its random op runs on, so every op that computes one
must be pinned to the host as well: the registry cannot tell those, as they all have GPU kernels.
"""

import functools
import importlib
import re

import numpy as np
import pytest
from helpers import TINY
from tensorflow.python.framework import kernels

from common import classifier, flags, graphs, inputs, quality, sampling
from common.tfcompat import tf, tf2

# Ops without a GPU kernel that the code pins to the host on purpose, by (op type, dtypes): why.
HOST_ON_PURPOSE = {
    # inputs.batch: each step's data order is computed on the host, where its seed is; only the
    # batch's index vector goes to the device, to gather the images there.
    ("RandomIndexShuffle", "Tseed=int64, dtype=int64"): "the epoch's permutation",
    ("PadV2", "T=int64, Tpaddings=int32"): "index_shuffle pads its seed to the raw op's three words",
    # inputs.dataset_in_graph: TensorFlow holds no int32 resource variable on a GPU, so the labels
    # stay on the host beside the indices; only the conditional model sends a batch of them across.
    ("VarHandleOp", "dtype=int32"): "the training labels",
    ("ResourceGather", "Tindices=int64, dtype=int32"): "the batch's labels",
}

# tf.train.Saver's file I/O (string names, SaveV2, RestoreV2) has CPU kernels only, and the Saver puts it
# on the host itself (it copies each variable to the host before SaveV2 and pins RestoreV2). It runs
# at a save or a restore, never in a step (test_no_step_runs_the_savers_file_io).
SAVER = re.compile(r"^save(_\d+)?/")
SAVER_TYPES = {"Const", "SaveV2", "RestoreV2"}


@functools.cache
def _gpu_kernels(op_type):
    """The kernels a GPU device may run: its own and the DEFAULT ones, which serve any device
    (TensorFlow registers most int32 kernels that way, with their data in host memory)."""
    return [k for k in kernels.get_registered_kernels_for_op(op_type).kernel if k.device_type in ("GPU", "DEFAULT")]


def _types(attr):
    return list(attr.list.type) if attr.WhichOneof("value") == "list" else [attr.type]


def _fits(op, kernel):
    """Whether the op's type attributes are all among those the kernel is registered for."""
    return all(all(t in c.allowed_values.list.type for t in _types(op.node_def.attr[c.name])) for c in kernel.constraint)


def dtypes(op):
    """ "T=int64, Tpaddings=int32": the op's type attributes, as HOST_ON_PURPOSE keys them."""
    named = []
    for name, attr in sorted(op.node_def.attr.items()):
        kind = attr.WhichOneof("value")
        if kind == "type":
            named.append(f"{name}={tf.as_dtype(attr.type).name}")
        elif kind == "list" and attr.list.type:
            named.append(f"{name}=[{', '.join(tf.as_dtype(t).name for t in attr.list.type)}]")
    return ", ".join(named)


def pinned_to_host(op):
    return "CPU" in op.device.upper()


def hosted(op):
    """Pinned to the host, or reading a variable that is: the placer puts an op that takes a resource
    handle on the handle's device (a variable's read leaves the device scope it is made in)."""
    return pinned_to_host(op) or any(t.dtype == tf.resource and pinned_to_host(t.op) for t in op.inputs)


def misplaced(graph, allowed=HOST_ON_PURPOSE):
    """The ops of `graph` a GPU machine would run on the host unasked: no GPU kernel for their dtypes,
    and neither hosted and in `allowed` nor the Saver's file I/O."""
    found = []
    for op in graph.get_operations():
        if any(_fits(op, k) for k in _gpu_kernels(op.type)):
            continue
        if hosted(op) and (op.type, dtypes(op)) in allowed:
            continue
        if SAVER.match(op.name) and op.type in SAVER_TYPES:
            continue
        found.append(op)
    return found


def unhosted_seed_work(graph):
    """The ops that compute a seed (everything upstream of an input named `seed`, up to the values fed
    from the host) and are not hosted."""
    seeds = [t.op for op in graph.get_operations() for arg, t in zip(_input_names(op), op.inputs, strict=True) if arg == "seed"]
    found, seen = set(), set()
    while seeds:
        op = seeds.pop()
        if op in seen or op.type == "Placeholder":
            continue
        seen.add(op)
        if not hosted(op):
            found.add(op)
        seeds += [t.op for t in op.inputs]
    return sorted(found, key=lambda op: op.name)


def _input_names(op):
    """The op definition's name of each input (a list argument names each of its inputs)."""
    names = []
    for arg in op.op_def.input_arg:
        if arg.number_attr:
            count = op.get_attr(arg.number_attr)
        elif arg.type_list_attr:
            count = len(op.get_attr(arg.type_list_attr))
        else:
            count = 1
        names += [arg.name] * count
    return names


def listing(ops):
    return "\n".join(f"  {op.type} {op.name} ({dtypes(op)}) on {op.device or 'no device'}" for op in ops)


# ------------------------------------------------------------------------------ the graphs
VARIANTS = {  # the default graphs, and the DCGAN with dropout, whose masks take seeds per call
    "gan_fc": ("gan_fc", []),
    "gan_dcgan": ("gan_dcgan", []),
    "gan_dcgan --dropout 0.3": ("gan_dcgan", ["--dropout", "0.3"]),
    "gan_cdcgan": ("gan_cdcgan", []),
}


def _args(script, extra=()):
    module = importlib.import_module(script)
    argv = [*TINY[script], *extra, "--eval-every", "1"]  # the last --eval-every wins: evaluation on
    return module.MODEL, flags.parse(script, module.HPARAMS, argv, conditional=module.MODEL.conditional)


def training_graph(script, extra=()):
    model, args = _args(script, extra)
    built = graphs.build(args, model, (64, 28, 28, 1), (64,), steps_per_epoch=8)
    assert built.eval_images is not None  # the evaluation's samples are in the graph
    return built


class _Built(Exception):
    def __init__(self, graph):
        self.graph = graph


def graph_of(build, monkeypatch):
    """The graph `build()` opens its session on: the session is refused, so no checkpoint is read."""

    def refuse(graph=None, **_):
        raise _Built(graph)

    monkeypatch.setattr(tf, "Session", refuse)
    with pytest.raises(_Built) as built:
        build()
    return built.value.graph


def generate_graph(script, tmp_path, monkeypatch):
    """`--generate`'s and evaluate.py's graph (sampling.generate_images) for a run with one checkpoint."""
    model, args = _args(script)
    (tmp_path / "ckpt-1.index").touch()

    class Run:
        def checkpoint_folder(self, which):
            return tmp_path

    return graph_of(lambda: sampling.generate_images(args, model, Run(), 10), monkeypatch)


def classifier_graph(tmp_path, monkeypatch):
    """The evaluation classifier's graph as classifier.load builds it (for quality.Reference)."""
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "classifier.index").touch()  # present: load builds the graph, trains nothing
    (tmp_path / "mnist" / "info.json").write_text("{}")  # no checksums recorded: none checked
    return graph_of(lambda: classifier.load("mnist", root=tmp_path), monkeypatch)


@pytest.fixture(scope="module", params=list(VARIANTS))
def trained(request):
    script, extra = VARIANTS[request.param]
    return training_graph(script, extra)


# ------------------------------------------------------------------------------ the scripts' graphs
def test_every_training_op_has_a_gpu_kernel_or_is_hosted_on_purpose(trained):
    offenders = misplaced(trained.graph)
    assert not offenders, "ops without a GPU kernel, not pinned to the host on purpose:\n" + listing(offenders)


def test_every_training_seed_is_computed_on_the_host(trained):
    offenders = unhosted_seed_work(trained.graph)
    assert not offenders, "seed work left to the placer (a GPU would send it back to the host):\n" + listing(offenders)


def test_the_data_order_and_the_labels_are_on_the_host_and_the_images_on_the_device(trained):
    """What HOST_ON_PURPOSE is for: the permutation and the labels are where their allow-list entries
    say, and the images — the one large thing a step reads — are not dragged along to the host."""
    ops = trained.graph.get_operations()
    assert all(pinned_to_host(op) for op in ops if op.type == "RandomIndexShuffle")
    handles = {op.name: op for op in ops if op.type == "VarHandleOp"}
    assert pinned_to_host(handles["train_labels"]) and pinned_to_host(handles["global_step"])
    assert not pinned_to_host(handles["train_images"])
    gathers = {name: [op for op in ops if op.type == "ResourceGather" and op.inputs[0].op is handles[name]] for name in handles}
    assert gathers["train_labels"] and all(hosted(op) for op in gathers["train_labels"])
    assert gathers["train_images"] and not any(hosted(op) for op in gathers["train_images"])


def test_no_step_runs_the_savers_file_io(trained):
    """The Saver's exemption from pinning holds only if a step never waits for it."""
    pending, seen = [trained.step.train_op, *[t.op for t in trained.step.metrics.values()]], set()
    while pending:
        op = pending.pop()
        if op not in seen:
            seen.add(op)
            pending += [t.op for t in op.inputs] + list(op.control_inputs)
    assert len(seen) > 100  # the walk reached the networks
    assert not [op.name for op in seen if SAVER.match(op.name)]


@pytest.mark.parametrize("script", list(TINY))
def test_every_generate_op_has_a_gpu_kernel_and_its_seed_is_on_the_host(script, tmp_path, monkeypatch):
    graph = generate_graph(script, tmp_path, monkeypatch)
    assert any(op.type == "StatelessRandomGetKeyCounter" for op in graph.get_operations())  # the real graph
    offenders = misplaced(graph) + unhosted_seed_work(graph)
    assert not offenders, "ops a GPU would run on the host unasked:\n" + listing(offenders)


def test_every_classifier_op_has_a_gpu_kernel(tmp_path, monkeypatch):
    graph = classifier_graph(tmp_path, monkeypatch)
    assert any(op.type == "Conv2D" for op in graph.get_operations())
    offenders = misplaced(graph)
    assert not offenders, "ops without a GPU kernel, not pinned to the host on purpose:\n" + listing(offenders)


def test_every_frechet_distance_op_has_a_gpu_kernel():
    """The evaluation's matrix work (quality.FrechetToReference) is meant for the device: float64
    products and the eigenvalues (cuSOLVER)."""
    graph = quality.FrechetToReference(np.zeros(4), np.eye(4), 4.0).sess.graph
    assert any(op.type == "SelfAdjointEigV2" for op in graph.get_operations())
    offenders = misplaced(graph)
    assert not offenders, "ops without a GPU kernel, not pinned to the host on purpose:\n" + listing(offenders)


# ------------------------------------------------------------------------------ the checks themselves
def test_the_registry_holds_gpu_kernels_on_this_machine():
    """Without them every op would be reported: the wheel must be one that registers CUDA kernels."""
    conv = kernels.get_registered_kernels_for_op("Conv2D").kernel
    assert any(k.device_type == "GPU" for k in conv)


def test_host_only_ops_left_to_the_placer_are_reported():
    with tf.Graph().as_default() as graph:
        index = tf2.random.experimental.index_shuffle(tf.range(4, dtype=tf.int64), tf.constant([1, 2], tf.int64), 9)
        tf.pad(tf.zeros([3]), [[1, 0]], constant_values=7.0)  # a float32 PadV2 has a GPU kernel
        with tf.device("/cpu:0"):
            tf.strings.length(tf.constant(["pinned, but not on the list"]))
    reported = {(op.type, dtypes(op)) for op in misplaced(graph)}
    assert reported == {
        ("RandomIndexShuffle", "Tseed=int64, dtype=int64"),
        ("PadV2", "T=int64, Tpaddings=int32"),
        ("StringLength", ""),
        ("Const", "dtype=string"),
    }
    assert "RandomIndexShuffle RandomIndexShuffle (Tseed=int64, dtype=int64)" in listing(misplaced(graph))
    assert index.op.type == "RandomIndexShuffle"


def test_host_only_ops_pinned_and_listed_are_not_reported():
    with tf.Graph().as_default() as graph, inputs.on_host():
        tf2.random.experimental.index_shuffle(tf.range(4, dtype=tf.int64), tf.constant([1, 2], tf.int64), 9)
    assert not misplaced(graph)
    assert misplaced(graph, allowed={})  # pinned alone is not enough: the list says why


def test_seed_work_left_to_the_placer_is_reported():
    with tf.Graph().as_default() as graph:
        step = tf.Variable(0, dtype=tf.int64, name="step")
        tf2.random.stateless_normal([2], tf.stack([tf.constant(0, tf.int64), step + 1]))  # unpinned seed
        tf2.random.stateless_normal([2], inputs.stream_seed(0, inputs.Stream.NOISE, tf.placeholder(tf.int64, [])))
    assert {op.type for op in unhosted_seed_work(graph)} == {"Pack", "AddV2", "ReadVariableOp", "VarHandleOp", "Const"}
