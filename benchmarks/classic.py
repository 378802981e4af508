"""The loop the classic TF1 GAN scripts use, as the yardstick for ours: numpy batches and noise fed
through `feed_dict`, D and G each in its own session.run (G forward twice a step). Its speed and FLOPs
beside ours show how much the loop itself gains, and how much any loop could on a compute-bound machine."""

import statistics

import numpy as np

from benchmarks import timed
from benchmarks.counts import step_flops
from common import gan, ops
from common.tfcompat import tf


def _classic_style_graph(script, module, args):
    """The same networks, wired as the classic scripts wire them: placeholders for the real batch and the
    noise, and a D optimizer and a G optimizer run by separate session.run calls."""
    b = args.batch_size
    x = tf.placeholder(tf.float32, [b, 28, 28, 1])
    z = tf.placeholder(tf.float32, [b, args.z_dim])
    y = tf.placeholder(tf.int32, [b])
    seed = tf.constant([0, 1], tf.int64)
    if script == "gan_fc":
        fake, d_real = module.generator(z, args), module.discriminator(x, args)
        d_fake = module.discriminator(fake, args)
    elif script == "gan_dcgan":
        fake, d_real = module.generator(z, args, training=True), module.discriminator(x, args, seed)
        d_fake = module.discriminator(fake, args, seed + 1)
    else:
        fake, d_real = module.generator(z, y, args, training=True), module.discriminator(x, y, args)
        d_fake = module.discriminator(fake, y, args)
    bn_updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="generator")
    d_loss = gan.bce(d_real, 1.0) + gan.bce(d_fake, 0.0)
    g_loss = gan.bce(d_fake, 1.0)
    d_step = tf.train.AdamOptimizer(args.lr, beta1=args.beta1).minimize(d_loss, var_list=ops.trainable_variables("discriminator"))
    with tf.control_dependencies(bn_updates):
        g_step = tf.train.AdamOptimizer(args.lr, beta1=args.beta1).minimize(g_loss, var_list=ops.trainable_variables("generator"))
    return x, z, y, d_step, d_loss, g_step, g_loss


def bench_classic_style(script, module, args, data, steps, repeats, warmup, config):
    rng = np.random.default_rng(0)
    images, labels = data
    with tf.Graph().as_default():
        x, z, y, d_step, d_loss, g_step, g_loss = _classic_style_graph(script, module, args)
        init = tf.global_variables_initializer()
        with tf.Session(config=config) as sess:
            sess.run(init)

            def step():
                idx = rng.integers(0, len(images), args.batch_size)
                feed = {x: images[idx], z: rng.standard_normal((args.batch_size, args.z_dim), dtype=np.float32), y: labels[idx]}
                sess.run([d_step, d_loss], feed)
                feed[z] = rng.standard_normal((args.batch_size, args.z_dim), dtype=np.float32)
                sess.run([g_step, g_loss], feed)

            for _ in range(warmup + 1):
                step()
            walls = [timed(lambda: [step() for _ in range(steps)]) for _ in range(repeats)]
            graph = tf.get_default_graph()  # two session.runs: each runs G forward, so count each alone
            flops = step_flops(graph, [d_step, d_loss]) + step_flops(graph, [g_step, g_loss])
    return {"images_per_s": steps * args.batch_size / statistics.median(walls), "flops_per_step": flops}
