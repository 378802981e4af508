"""Our networks' sizes, counted the way the peers count theirs, so that a table of speeds can say it
compares the same networks: a peer that lost a layer or padded a convolution differently would run
faster for the wrong reason. The networks are the scripts' own `generator` and `discriminator`, built
in a graph of their own at one image, with the scripts' default hyperparameters."""

from benchmarks import counts
from common import ops
from common.tfcompat import tf

CONVOLUTIONS = ("Conv2D", "Conv2DBackpropInput")  # a transposed convolution is the input gradient


def networks(name, module, hp, z, images, labels):
    """(G's images, D's logits) of script `module` for the model `name`, in the current graph."""
    if name == "fc":
        return module.generator(z, hp), module.discriminator(images, hp)
    if name == "dcgan":
        return module.generator(z, hp, training=True), module.discriminator(images, hp, tf.constant([0, 0], tf.int64))
    return module.generator(z, labels, hp, training=True), module.discriminator(images, labels, hp, classes=bool(hp.class_loss))


def forward_flops(graph, scope):
    """FLOPs of one forward pass of the network under `scope`: 2 × the multiply-adds of its matmuls
    and convolutions (the taps that meet real input only, `counts.conv_flops`); the elementwise
    work (batch norm, activations) is left out, as the peers leave it out."""
    total = 0
    for op in graph.get_operations():
        if not op.name.startswith(scope + "/"):
            continue
        if op.type in CONVOLUTIONS:
            total += counts.conv_flops(op)
        elif op.type == "MatMul":
            (rows, inner), columns = op.inputs[0].shape, op.outputs[0].shape[1]
            total += 2 * int(rows) * int(inner) * int(columns)
    return total


def sizes(name, module, hp):
    """{"params": {"g", "d"}, "flops_per_image": {"g", "d"}}: trainable parameters and forward FLOPs
    of one image of our G and D."""
    with tf.Graph().as_default() as graph:
        z = tf.placeholder(tf.float32, [1, hp.z_dim])
        images = tf.placeholder(tf.float32, [1, 28, 28, 1])
        labels = tf.placeholder(tf.int32, [1])
        networks(name, module, hp, z, images, labels)
        params = {
            net[0]: sum(v.shape.num_elements() for v in ops.trainable_variables(net)) for net in ("generator", "discriminator")
        }
        flops = {net[0]: forward_flops(graph, net) for net in ("generator", "discriminator")}
    return {"params": params, "flops_per_image": flops}
