"""What a step costs, counted rather than timed: its FLOPs from the graph, its kernels and its costliest
op types from one traced run. Counts do not vary with a busy machine, so the utilization, the classic
loop's FLOP ratio and the projected GPU rest on them rather than on a second stopwatch."""

from benchmarks import xla
from common.tfcompat import tf

CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


def step_flops(graph, fetches):
    """FLOPs of everything `fetches` needs, from TensorFlow's own per-op statistics."""
    from tensorflow.python.framework import ops as tf_ops  # after common.tfcompat has loaded TF quietly

    pending = [graph.as_graph_element(f) for f in fetches]
    pending = [f.op if isinstance(f, tf.Tensor) else f for f in pending]
    seen, total = set(), 0
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        pending.extend(t.op for t in op.inputs)
        pending.extend(op.control_inputs)
        if op.type in CONV_OPS:
            total += conv_flops(op)
            continue
        try:
            stat = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops")
        except ValueError:  # an op whose shapes are not all known: none of the heavy ones
            continue
        total += int(stat.value or 0)
    return total


def valid_taps(in_size, out_size, kernel, stride, pad_before):
    """How many (output position, kernel tap) pairs along one axis land on real input, not padding,
    for a convolution that pads `pad_before` zeros ahead of its input. TensorFlow's SAME pads half its
    padding there, the odd one after (`same_pad_before`); PyTorch pads its `padding` on both sides."""
    return sum(0 <= o * stride + k - pad_before < in_size for o in range(out_size) for k in range(kernel))


def same_pad_before(in_size, out_size, kernel, stride):
    """The zeros TensorFlow's SAME padding puts ahead of the input along one axis."""
    return max((out_size - 1) * stride + kernel - in_size, 0) // 2


def _taps(in_size, out_size, kernel, stride, padding):
    pad = same_pad_before(in_size, out_size, kernel, stride) if padding == "SAME" else 0
    return valid_taps(in_size, out_size, kernel, stride, pad)


def conv_flops(op):
    """FLOPs of a convolution, or of either of its gradients (a transposed convolution is the input
    gradient): all three do the forward convolution's multiply-adds, 2 FLOPs each, counting only the
    kernel taps that meet real input. TensorFlow's own statistics also count the taps that fall in
    the zero padding (for 5×5 kernels on 7×7 maps ~31 % of them, which oneDNN skips) and, for the two
    gradients, assume SAME padding (for a 7×7 VALID layer on a 1×1 map that is ~49 times the work)."""
    if op.type == "Conv2D":
        x, w, y = op.inputs[0].shape, op.inputs[1].shape, op.outputs[0].shape
    elif op.type == "Conv2DBackpropInput":
        x, w, y = op.outputs[0].shape, op.inputs[1].shape, op.inputs[2].shape
    else:
        x, w, y = op.inputs[0].shape, op.outputs[0].shape, op.inputs[2].shape
    _, sh, sw, _ = op.get_attr("strides")
    padding = op.get_attr("padding").decode()
    kh, kw, cin, cout = (int(d) for d in w)
    taps = _taps(int(x[1]), int(y[1]), kh, sh, padding) * _taps(int(x[2]), int(y[2]), kw, sw, padding)
    return 2 * int(x[0]) * taps * cin * cout


def classifier_flops():
    """FLOPs of the evaluation classifier's forward pass on one image."""
    from common import classifier

    with tf.Graph().as_default() as graph:
        logits, features = classifier.network(tf.placeholder(tf.float32, [1, 28, 28, 1]), training=False)
        return step_flops(graph, [logits, features])


def frechet_flops(samples, dim=1024):
    """FLOPs of quality.FrechetToReference: two [samples, dim] × [dim, dim] products and the reduction
    of a dim×dim matrix to tridiagonal form, the bulk of its eigenvalues."""
    return 4 * samples * dim**2 + 4 * dim**3 // 3


def _traced(sess, fetches):
    """(node stats, op type) of every op one traced run of `fetches` executes, from TensorFlow's own
    RunMetadata step stats."""
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    metadata = tf.RunMetadata()
    sess.run(fetches, options=options, run_metadata=metadata)
    return [
        (node, node.timeline_label.split("(")[0].split(" = ")[-1].strip())
        for stats in metadata.step_stats.dev_stats
        for node in stats.node_stats
    ]


def kernel_count(sess, fetches, clusters=None):
    """Ops one traced step executes that would be device kernels on a GPU: everything but constants,
    variable handles and reads, identities, no-ops, and what is pinned to the host. With XLA, a
    cluster counts as the kernels of its compiled module, `clusters` ({name: kernels}, see xla.py)."""
    traced = _traced(sess, fetches)
    skip = ("Const", "NoOp", "Identity", "VarHandleOp", "ReadVariableOp", "_Arg", "_Retval", "_Send", "_Recv")
    host = {op.name for op in sess.graph.get_operations() if "CPU" in op.device.upper()}
    total = 0
    for node, kind in traced:
        compiled = xla.traced_kernels(node.node_name, kind, clusters) if clusters is not None else None
        if compiled is not None:
            total += compiled
        elif not (node.node_name in host or kind in skip or node.node_name == "_SOURCE"):
            total += 1
    return total


def top_ops(sess, fetches, count=12):
    """Where one traced step spends its time: (op type, total ms, share) summed over the step's ops."""
    by_type = {}
    for node, kind in _traced(sess, fetches):
        kind = kind or node.node_name
        by_type[kind] = by_type.get(kind, 0) + node.all_end_rel_micros
    total = sum(by_type.values()) or 1
    ranked = sorted(by_type.items(), key=lambda kv: -kv[1])[:count]
    return [(kind, micros / 1000, micros / total) for kind, micros in ranked]
