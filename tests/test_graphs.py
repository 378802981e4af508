"""Each script's training graph at tiny sizes: scopes, the optimizers' variable lists, which variables
one step changes, batch norm's two modes, and the conditional grid's rows."""

import importlib

import numpy as np
import pytest
from helpers import REPO, TINY, build_training_graph

from common import flags, gan, history, inputs, ops
from common.tfcompat import tf

SCRIPTS = list(TINY)


def build(script, argv=None):
    return build_training_graph(script, TINY[script] if argv is None else argv)


@pytest.fixture(scope="module", params=SCRIPTS)
def built(request):
    return (request.param, *build(request.param))


def test_variable_lists_are_disjoint_and_cover_every_trainable_variable(built):
    _, graph, *_ = built
    with graph.as_default():
        g_vars, d_vars = ops.trainable_variables("generator"), ops.trainable_variables("discriminator")
        assert g_vars and d_vars
        assert not set(g_vars) & set(d_vars)
        assert set(g_vars) | set(d_vars) == set(tf.trainable_variables())


def weight_shapes(script, argv=()):
    graph, *_ = build(script, argv=list(argv))  # the real sizes
    with graph.as_default():
        return {v.name.removesuffix(":0"): v.shape.as_list() for v in tf.trainable_variables() if "weights" in v.name}


def test_fc_architecture_matches_the_comment():
    assert weight_shapes("gan_fc") == {
        "generator/fc1/weights": [96, 1024],
        "generator/fc2/weights": [1024, 1024],
        "generator/fc3/weights": [1024, 784],
        "discriminator/fc1/weights": [784, 512],
        "discriminator/fc2/weights": [512, 512],
        "discriminator/minibatch/projection/weights": [512, 8 * 5],
        "discriminator/fc3/weights": [512 + 8, 1],
    }
    graph, *_ = build("gan_fc")
    with graph.as_default():  # batch norm before G's two ReLUs, whose beta replaces the layers' biases
        g_names = {v.name for v in ops.trainable_variables("generator")}
        moving = [v for v in tf.global_variables() if v.name.startswith("generator/") and "moving_mean" in v.name]
    assert {"generator/bn1/gamma:0", "generator/bn2/beta:0"} <= g_names and len(moving) == 2
    assert not any("fc1/biases" in n or "fc2/biases" in n for n in g_names)


def test_the_readmes_classic_fc_flags_build_the_classic_scripts_networks():
    """The classic two-MLP script's networks and noise: no batch norm, D of 256 judging one image at a
    time, uniform z."""
    import gan_fc

    line = next(
        line for line in (REPO / "README.md").read_text().splitlines() if "`--no-g-batch-norm" in line and "gan_fc" in line
    )
    argv = line[line.index("`--") + 1 : line.rindex("`")].split()
    assert gan_fc.CLASSIC.split() == argv and flags.parse("t", gan_fc.HPARAMS, argv).z_modes == 0
    assert weight_shapes("gan_fc", argv) == {
        "generator/fc1/weights": [96, 1024],
        "generator/fc2/weights": [1024, 1024],
        "generator/fc3/weights": [1024, 784],
        "discriminator/fc1/weights": [784, 256],
        "discriminator/fc2/weights": [256, 256],
        "discriminator/fc3/weights": [256, 1],
    }
    graph, *_ = build("gan_fc", argv)
    with graph.as_default():
        assert not [v for v in tf.global_variables() if "/bn" in v.name]


def test_fc_noise_is_uniform_in_the_classic_and_ten_gaussian_blobs_by_default_each_scaled_by_temperature():
    import gan_fc

    with tf.Graph().as_default(), tf.Session() as sess:
        seed = tf.constant([3, 4], tf.int64)
        classic = sess.run(gan_fc.noise(4000, seed, flags.parse("t", gan_fc.HPARAMS, gan_fc.CLASSIC.split())))
        blobs = sess.run(gan_fc.noise(4000, seed, flags.parse("t", gan_fc.HPARAMS, [])))
        narrower = sess.run(gan_fc.noise(4000, seed, flags.parse("t", gan_fc.HPARAMS, gan_fc.CLASSIC.split()), 0.5))
        colder = sess.run(gan_fc.noise(4000, seed, flags.parse("t", gan_fc.HPARAMS, []), 0.5))
    assert classic.min() >= -1 and classic.max() <= 1 and classic.max() > 0.99
    modes = blobs[:, :10].argmax(1)  # each z sits 4 out on its mode's axis
    assert set(modes) == set(range(10)) and np.allclose(blobs[np.arange(4000), modes].mean(), 4.0, atol=0.1)
    # Z_TEMPERATURE's scale narrows the cube, and each blob about its centre, which stays put
    np.testing.assert_allclose(narrower, 0.5 * classic, rtol=1e-6)
    centres = 2 * colder - blobs  # each row 4 on one of the first ten axes, 0 elsewhere
    assert np.allclose(centres[:, :10].max(1), 4.0, atol=1e-5) and np.allclose(np.abs(centres).sum(1), 4.0, atol=1e-4)


def test_dcgan_architecture_matches_the_comment():
    assert weight_shapes("gan_dcgan") == {  # transposed-conv kernels are [h, w, out, in]
        "generator/fc/weights": [100, 7 * 7 * 256],
        "generator/deconv1/weights": [3, 3, 128, 256],
        "generator/deconv1b/weights": [3, 3, 128, 128],
        "generator/deconv2/weights": [5, 5, 64, 128],
        "generator/deconv3/weights": [5, 5, 1, 64],
        "discriminator/conv1/weights": [5, 5, 1, 48],
        "discriminator/conv2/weights": [5, 5, 48, 96],
        "discriminator/conv2b/weights": [3, 3, 96, 96],
        "discriminator/conv2c/weights": [3, 3, 96, 96],
        "discriminator/fc/weights": [7 * 7 * 96, 1],
    }


def test_dcgan_kernel_sizes_are_each_networks_own():
    shapes = weight_shapes("gan_dcgan", ["--g-kernel", "4", "--g-7x7-kernel", "2", "--g-7x7-layers", "1", "--d-kernel", "4"])
    assert {name: shape[:2] for name, shape in shapes.items() if "conv" in name} == {
        "generator/deconv1/weights": [2, 2],
        "generator/deconv2/weights": [4, 4],
        "generator/deconv3/weights": [4, 4],
        "discriminator/conv1/weights": [4, 4],
        "discriminator/conv2/weights": [4, 4],
        "discriminator/conv2b/weights": [3, 3],  # D's layers at 7×7 are 3×3 whatever D_KERNEL is
        "discriminator/conv2c/weights": [3, 3],
    }


def test_dcgan_g_7x7_layers_have_their_own_kernel_and_count():
    shapes = weight_shapes("gan_dcgan", ["--g-7x7-layers", "3", "--g-7x7-kernel", "4", "--g-kernel", "3"])
    assert {name: shape for name, shape in shapes.items() if "deconv" in name} == {
        "generator/deconv1/weights": [4, 4, 128, 256],
        "generator/deconv1b/weights": [4, 4, 128, 128],
        "generator/deconv1c/weights": [4, 4, 128, 128],
        "generator/deconv2/weights": [3, 3, 64, 128],
        "generator/deconv3/weights": [3, 3, 1, 64],
    }
    shapes = weight_shapes("gan_dcgan", ["--g-7x7-layers", "0"])  # the fc's 4F maps go straight to upsampling
    assert {name: shape for name, shape in shapes.items() if "deconv" in name} == {
        "generator/deconv2/weights": [5, 5, 64, 256],
        "generator/deconv3/weights": [5, 5, 1, 64],
    }


def test_dcgan_d_7x7_layers_come_after_its_second_convolution_and_feed_the_logit():
    shapes = weight_shapes("gan_dcgan", ["--d-7x7-layers", "3", "--d-filters", "40", "--d-kernel", "4"])
    assert {name: shape for name, shape in shapes.items() if name.startswith("discriminator")} == {
        "discriminator/conv1/weights": [4, 4, 1, 40],
        "discriminator/conv2/weights": [4, 4, 40, 80],
        "discriminator/conv2b/weights": [3, 3, 80, 80],  # 3×3 whatever D_KERNEL is
        "discriminator/conv2c/weights": [3, 3, 80, 80],
        "discriminator/conv2d/weights": [3, 3, 80, 80],
        "discriminator/fc/weights": [7 * 7 * 80, 1],
    }
    import gan_dcgan

    graph, _, _, args = build("gan_dcgan", [*TINY["gan_dcgan"], "--d-7x7-layers", "3"])
    norms = _discriminator_ops(graph, "FusedBatchNormV3")
    assert len(norms) == 3 * 4  # bn2, bn2b, bn2c, bn2d in each of D's three calls
    with graph.as_default():
        d_vars = {v.name: v for v in ops.trainable_variables("discriminator")}
        logits = gan_dcgan.discriminator(tf.zeros([2, 28, 28, 1]), args, tf.constant([0, 0], tf.int64))
        assert tf.gradients(logits, d_vars["discriminator/conv2d/weights:0"])[0] is not None  # the last one feeds the fc
    assert {"discriminator/bn2b/gamma:0", "discriminator/bn2d/beta:0"} <= set(d_vars)
    assert not [name for name in d_vars if name.startswith("discriminator/conv2") and "biases" in name]  # BN's beta serves


def test_dcgan_d_7x7_layers_follow_the_tutorials_d_flags():
    """Without batch norm each added layer gets a bias; with dropout, its own mask."""
    graph, *_ = build("gan_dcgan", [*TINY["gan_dcgan"], *TUTORIAL_D, "--d-7x7-layers", "1"])
    assert not _discriminator_ops(graph, "FusedBatchNormV3")
    assert len(_discriminator_ops(graph, "StatelessRandomUniformV2")) == 3 * 3  # three layers, three calls
    with graph.as_default():
        assert "discriminator/conv2b/biases:0" in {v.name for v in ops.trainable_variables("discriminator")}


def test_the_readmes_tutorial_flags_build_the_tutorials_weights():
    """The README's one set of flags, read from the README itself, gives the TF2 tutorial's layer shapes."""
    import gan_dcgan

    line = next(line for line in (REPO / "README.md").read_text().splitlines() if "--no-d-batch-norm" in line)
    argv = line[line.index("`--") + 1 : line.rindex("`")].split()
    tutorial = flags.parse("test", gan_dcgan.HPARAMS, argv)
    assert tutorial.z_modes == 0 and tutorial.z_temperature == 1.0  # the tutorial's noise: one N(0, I), drawn so
    assert tutorial.bn_momentum == 0.99 and tutorial.g_average == 0.0  # it samples from G itself, Keras' momentum
    assert weight_shapes("gan_dcgan", argv) == {
        "generator/fc/weights": [100, 7 * 7 * 256],
        "generator/deconv1/weights": [5, 5, 128, 256],
        "generator/deconv2/weights": [5, 5, 64, 128],
        "generator/deconv3/weights": [5, 5, 1, 64],
        "discriminator/conv1/weights": [5, 5, 1, 64],
        "discriminator/conv2/weights": [5, 5, 64, 128],
        "discriminator/fc/weights": [7 * 7 * 128, 1],
    }


# the README's D flags
TUTORIAL_D = ["--no-d-batch-norm", "--dropout", "0.3", "--leaky-slope", "0.3", "--init-stddev", "0", "--d-7x7-layers", "0"]


def _discriminator_ops(graph, kind):
    return [op for op in graph.get_operations() if op.type == kind and op.name.startswith("discriminator")]


def test_dcgan_d_has_batch_norm_in_training_mode_on_each_of_its_three_calls():
    graph, *_ = build("gan_dcgan")
    norms = _discriminator_ops(graph, "FusedBatchNormV3")
    assert len(norms) == 3 * 3  # bn2, bn2b, bn2c in each call: real, fake, and the fake again after D's update
    assert all(op.get_attr("is_training") for op in norms)
    with graph.as_default():
        d_names = {v.name for v in ops.trainable_variables("discriminator")}
        assert {"discriminator/bn2/gamma:0", "discriminator/bn2b/gamma:0", "discriminator/bn2c/gamma:0"} <= d_names
        conv_biases = [v for v in tf.global_variables() if v.name.startswith("discriminator/conv2") and "biases" in v.name]
        assert not conv_biases  # BN's beta serves
    assert not _discriminator_ops(graph, "StatelessRandomUniformV2")  # DROPOUT = 0: no masks drawn


def test_dcgan_d_judges_each_image_with_its_batch():
    """Training-mode batch norm: what D says of an image depends on the batch it came in (the real and
    the fake batch are normalised apart), which is why D sees them in separate calls."""
    import gan_dcgan

    graph, _, init, args = build("gan_dcgan")
    with graph.as_default():
        x = tf.placeholder(tf.float32, [4, 28, 28, 1])
        logits = gan_dcgan.discriminator(x, args, tf.constant([0, 0], tf.int64))
    rng = np.random.default_rng(2)
    batch = rng.uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    other = batch.copy()
    other[1:] = rng.uniform(-1, 1, (3, 28, 28, 1))
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        first, again = sess.run(logits, {x: batch})[0], sess.run(logits, {x: other})[0]
    assert abs(first - again) > 1e-4


def test_dcgan_tutorial_architecture_is_one_set_of_flags_away():
    graph, model, init, args = build("gan_dcgan", [*TINY["gan_dcgan"], *TUTORIAL_D])
    assert not _discriminator_ops(graph, "FusedBatchNormV3")
    masks = _discriminator_ops(graph, "StatelessRandomUniformV2")
    assert len(masks) == 6  # dropout after each of the two convolutions, in each of the three calls
    slopes = {round(op.get_attr("alpha"), 6) for op in graph.get_operations() if op.type == "LeakyRelu"}
    assert slopes == {0.3}
    with graph.as_default():
        conv1 = next(v for v in tf.global_variables() if v.name == "discriminator/conv1/weights:0")
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        w = sess.run(conv1)
    limit = np.sqrt(6 / (5 * 5 * 1 + 5 * 5 * args.d_filters))  # Glorot uniform, the Keras default
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit


def test_dcgan_d_and_g_learn_at_their_own_rates():
    graph, model, init, args = build("gan_dcgan", [*TINY["gan_dcgan"], "--lr", "1e-4", "--d-lr", "3e-4"])
    rates = {
        op.name.split("/")[0]: op.get_attr("value").float_val[0]
        for op in graph.get_operations()
        if op.type == "Const" and op.name.endswith("_adam/learning_rate")
    }
    assert rates == pytest.approx({"d_adam": 3e-4, "g_adam": 1e-4})


def test_cdcgan_architecture_matches_the_comment():
    shapes = weight_shapes("gan_cdcgan")
    assert {k: v for k, v in shapes.items() if "bn" not in k} == {
        "generator/deconv1/weights": [7, 7, 128, 110],
        "generator/deconv1b/weights": [3, 3, 128, 128],
        "generator/deconv1c/weights": [3, 3, 128, 128],
        "generator/deconv2/weights": [5, 5, 64, 128],
        "generator/deconv3/weights": [5, 5, 1, 64],
        "discriminator/conv1/weights": [5, 5, 1, 64],  # the image alone: the label comes in by the projection
        "discriminator/conv2/weights": [5, 5, 64, 128],
        "discriminator/conv2b/weights": [3, 3, 128, 128],
        "discriminator/conv2c/weights": [3, 3, 128, 128],
        "discriminator/conv3/weights": [7, 7, 128, 1],
        "discriminator/projection/weights": [10, 7 * 7 * 128],
    }


def test_the_readmes_classic_cdcgan_flags_build_the_classic_scripts_weights():
    line = next(line for line in (REPO / "README.md").read_text().splitlines() if "--d-condition input" in line)
    argv = line[line.index("`--") + 1 : line.rindex("`")].split()
    classic = flags.parse("test", __import__("gan_cdcgan").HPARAMS, argv)
    assert classic.lr == classic.d_lr == 2e-4 and classic.z_temperature == 1.0
    assert weight_shapes("gan_cdcgan", argv) == {
        "generator/deconv1/weights": [7, 7, 256, 110],
        "generator/deconv2/weights": [5, 5, 128, 256],
        "generator/deconv3/weights": [5, 5, 1, 128],
        "discriminator/conv1/weights": [5, 5, 11, 128],
        "discriminator/conv2/weights": [5, 5, 128, 256],
        "discriminator/conv3/weights": [7, 7, 256, 1],
    }
    assert __import__("gan_cdcgan").CLASSIC.split() == argv  # the script's docstring flags are the README's


def test_cdcgan_d_judges_the_image_with_its_label_through_the_projection_alone():
    """Without label planes no convolution of D sees the label (none reads 11 channels), yet the same
    images judged as 3s and as 5s get other logits: the projection reads the label."""
    import gan_cdcgan

    graph, _, init, args = build("gan_cdcgan")
    with graph.as_default():
        x = tf.placeholder(tf.float32, [6, 28, 28, 1])
        a = gan_cdcgan.discriminator(x, tf.fill([6], 3), args)
        b = gan_cdcgan.discriminator(x, tf.fill([6], 5), args)
        conv_ops = [op for op in graph.get_operations() if op.type == "Conv2D" and op.name.startswith("discriminator")]
    assert all(op.inputs[0].shape[-1] != 11 for op in conv_ops)
    rng = np.random.default_rng(0)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        la, lb = sess.run([a, b], {x: rng.uniform(-1, 1, (6, 28, 28, 1))})
    assert not np.allclose(la, lb)


def test_cdcgan_g_s_batch_norms_take_each_digit_s_own_scale_and_shift():
    """With G_CONDITIONAL_BN a digit's row of `class_gamma` moves only that digit's images; the default
    is the plain batch norm."""
    import gan_cdcgan

    graph, _, init, args = build("gan_cdcgan", [*TINY["gan_cdcgan"], "--g-conditional-bn"])
    with graph.as_default():
        labels = tf.constant([3, 3, 5, 5])
        images = gan_cdcgan.generator(tf.ones([4, args.z_dim]), labels, args, training=False)
        gammas = [v for v in tf.trainable_variables() if v.name.startswith("generator/") and "class_gamma" in v.name]
        scale_threes = tf.group(*[g[3].assign(2.0 * g[3]) for g in gammas])
    assert gammas and not any(v.name.endswith("/gamma:0") for v in tf.trainable_variables() if v.name.startswith("generator/"))
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        before = sess.run(images)
        sess.run(scale_threes)
        after = sess.run(images)
    assert not np.allclose(before[:2], after[:2]) and np.array_equal(before[2:], after[2:])
    plain, *_ = build("gan_cdcgan")
    assert not any("class_gamma" in v.name for v in plain.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES))


def test_fc_packing_gives_one_logit_per_pack_of_images_side_by_side():
    """With PACKING 2, D's first layer reads two images at once: a batch of 6 gets 3 logits, and
    changing one image changes its own pack's logit alone (with no minibatch kernels, which would let
    it change every logit: the next test)."""
    import gan_fc

    graph, _, init, args = build("gan_fc", [*TINY["gan_fc"], "--packing", "2", "--minibatch-kernels", "0"])
    with graph.as_default():
        x = tf.placeholder(tf.float32, [6, 28, 28, 1])
        logits = gan_fc.discriminator(x, args)
        (first,) = [v for v in tf.trainable_variables() if v.name == "discriminator/fc1/weights:0"]
    assert first.shape.as_list() == [2 * 28 * 28, args.d_hidden]
    images = np.random.default_rng(0).uniform(-1, 1, (6, 28, 28, 1))
    changed = images.copy()
    changed[3] = -changed[3]  # the second image of the second pack
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        before, after = sess.run(logits, {x: images}), sess.run(logits, {x: changed})
    assert before.shape == (3, 1)
    assert np.array_equal(before[[0, 2]], after[[0, 2]]) and not np.allclose(before[1], after[1])


@pytest.mark.parametrize("kernels", ["8", "0"])
def test_fc_d_judges_each_image_with_its_batch_only_with_minibatch_kernels(kernels):
    """MINIBATCH_KERNELS (the default's 8): changing one image of a batch moves every image's logit, as
    D reads how close each lies to the rest; with 0 (the classic), only its own."""
    import gan_fc

    graph, _, init, args = build("gan_fc", [*TINY["gan_fc"], "--minibatch-kernels", kernels])
    with graph.as_default():
        x = tf.placeholder(tf.float32, [5, 28, 28, 1])
        logits = gan_fc.discriminator(x, args)
    images = np.random.default_rng(0).uniform(-1, 1, (5, 28, 28, 1))
    changed = images.copy()
    changed[2] = -changed[2]
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        moved = ~np.isclose(sess.run(logits, {x: images}), sess.run(logits, {x: changed}), rtol=0, atol=1e-7)[:, 0]
    assert moved.tolist() == [True] * 5 if kernels != "0" else [False, False, True, False, False]


def test_cdcgan_mode_seeking_pairs_digits_and_charges_g_for_alike_images():
    """Fake i and fake i + B/2 are asked for the same digit, and the penalty is 1 / (mean image
    distance ÷ mean noise distance) of those pairs: high for a G that ignores its noise."""
    import gan_cdcgan

    graph, _, init, args = build("gan_cdcgan", [*TINY["gan_cdcgan"], "--mode-seeking", "1"])
    labels = graph.get_tensor_by_name("paired_labels:0")
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        drawn = sess.run(labels)
    pairs = args.batch_size // 2
    assert len(drawn) == args.batch_size and np.array_equal(drawn[:pairs], drawn[pairs:]) and len(set(drawn)) > 1

    rng = np.random.default_rng(0)
    z, images = rng.normal(size=(6, 5)), rng.uniform(-1, 1, (6, 28, 28, 1))
    alike = np.concatenate([images[:3], images[:3] + 0.01])
    with tf.Graph().as_default(), tf.Session() as sess:
        varied, same = sess.run([gan_cdcgan.mode_seeking_penalty(tf.constant(i), tf.constant(z), 3) for i in (images, alike)])
    expected = np.abs(z[:3] - z[3:]).mean() / np.abs(images[:3] - images[3:]).mean()
    assert varied == pytest.approx(expected, rel=1e-4) and same > 50 * varied


def _values(sess, variables):
    return [sess.run(v) for v in variables]


def _all(pairs, same):
    return all(np.array_equal(a, b) == same for a, b in zip(*pairs, strict=True))


def test_d_step_changes_only_d_and_the_full_step_adds_only_a_g_update(built, tmp_path):
    _, graph, model, init, _ = built
    _check_one_step(graph, model, init, tmp_path)


@pytest.mark.parametrize(
    "script, option",
    [
        ("gan_fc", ["--packing", "2"]),
        ("gan_fc", ["--minibatch-kernels", "4"]),
        ("gan_cdcgan", ["--mode-seeking", "1"]),
        ("gan_cdcgan", ["--class-loss", "1"]),
        ("gan_cdcgan", ["--minibatch-kernels", "4"]),
        ("gan_cdcgan", ["--minibatch-kernels", "4", "--minibatch-by-digit"]),
    ],
)
def test_the_options_steps_change_only_d_then_g(script, option, tmp_path):
    graph, model, init, _ = build(script, [*TINY[script], *option])
    _check_one_step(graph, model, init, tmp_path)


def _check_one_step(graph, model, init, tmp_path):
    with graph.as_default():
        g_vars, d_vars = ops.trainable_variables("generator"), ops.trainable_variables("discriminator")
        step = tf.train.get_global_step()
        saver = tf.train.Saver()
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        g0, d0 = _values(sess, g_vars), _values(sess, d_vars)
        saver.save(sess, str(tmp_path / "ckpt"), write_meta_graph=False)
        sess.run(model.d_step)
        g1, d1 = _values(sess, g_vars), _values(sess, d_vars)
        assert _all((g0, g1), same=True), "a D step moved G"
        assert _all((d0, d1), same=False), "a D step left some D variable alone"
        assert sess.run(step) == 0

        saver.restore(sess, str(tmp_path / "ckpt"))
        sess.run(model.train_op)
        g2, d2 = _values(sess, g_vars), _values(sess, d_vars)
        assert _all((d1, d2), same=True), "the full step's D update differs from the D step alone"
        assert _all((g0, g2), same=False), "the G update left some G variable alone"
        assert sess.run(step) == 1


def test_step_metrics_are_finite_and_follow_what_d_learns(built):
    """D updated again and again on one batch (the global step, and so the batch and the noise, stay
    put) must come to tell the reals from the fakes better: D(x) − D(G(z)) grows (with batch norm in
    D, which normalises each batch on its own, D(G(z)) alone need not fall) and its loss falls. Swapped
    or misassigned metrics would not."""
    _, graph, model, init, _ = built
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        _, m = sess.run([model.train_op, model.metrics])
        assert set(m) == set(history.STEP_METRICS)
        assert all(np.isfinite(v) for v in m.values())
        beliefs = [k for k in history.STEP_METRICS if k != "g_loss"]  # g_loss would run the whole step
        first = sess.run({k: model.metrics[k] for k in beliefs})
        for _ in range(30):
            sess.run(model.d_step)
        last = sess.run({k: model.metrics[k] for k in beliefs})
    assert last["d_real"] - last["d_fake"] > first["d_real"] - first["d_fake"] + 0.01
    assert last["d_loss"] < first["d_loss"]


@pytest.mark.parametrize("script", ["gan_dcgan", "gan_cdcgan"])
def test_batch_norm_moving_averages_move_in_training_and_serve_inference(script):
    graph, model, init, _ = build(script, TINY[script] + ["--g-average", "0"])  # samples from G itself
    with graph.as_default():
        moving = [v for v in tf.global_variables() if v.name.startswith("generator/") and "moving_mean" in v.name]
    assert moving
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        before, grid_before = _values(sess, moving), sess.run(model.samples)
        np.testing.assert_array_equal(grid_before, sess.run(model.samples))  # inference mode: no randomness
        sess.run(model.train_op)
        after, grid_after = _values(sess, moving), sess.run(model.samples)
        assert _all((before, after), same=False), "a training step left a moving average alone"
        # Inference mode reads the moving averages: change them alone, and the grid changes.
        sess.run([v.assign(tf.zeros_like(v)) for v in moving])
        assert not np.allclose(grid_after, sess.run(model.samples))


@pytest.mark.parametrize("script", ["gan_dcgan", "gan_cdcgan"])
def test_inference_mode_is_per_image(script):
    """With moving averages, an image does not depend on the rest of its batch (batch stats would)."""
    module = importlib.import_module(script)
    graph, _, init, args = build(script)
    with graph.as_default():
        z = tf.placeholder(tf.float32, [None, args.z_dim])
        extra = [tf.zeros([tf.shape(z)[0]], tf.int32)] if script == "gan_cdcgan" else []
        out = module.generator(z, *extra, args, training=False)
    batch = np.random.default_rng(1).normal(size=(6, args.z_dim)).astype(np.float32)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        np.testing.assert_allclose(sess.run(out, {z: batch})[:2], sess.run(out, {z: batch[:2]}), atol=1e-6)


def test_conditional_grid_rows_are_digits_and_columns_share_noise():
    import gan_cdcgan

    graph, _, init, args = build("gan_cdcgan")
    with graph.as_default():
        images, labels = gan_cdcgan.fixed_grid(args)
        # Redraw the grid from explicit noise: row k, column j = G(noise j, digit k), at the temperature the script draws with.
        z = gan_cdcgan.noise(10, inputs.stream_seed(args.seed, inputs.Stream.FIXED_NOISE, 0), args, args.z_temperature)
        with ops.averaged():  # the grid is drawn by G's weight average
            by_column = [gan_cdcgan.generator(z, tf.fill([10], k), args, training=False) for k in range(10)]
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        got_labels, got_images, expected = sess.run([labels, images, by_column])
    np.testing.assert_array_equal(got_labels.reshape(10, 10), np.repeat(np.arange(10)[:, None], 10, axis=1))
    np.testing.assert_allclose(got_images.reshape(10, 10, 28, 28, 1), np.stack(expected), atol=1e-6)


def test_batches_cover_each_epoch_once_in_a_new_order():
    """Within an epoch every example is drawn once; the next epoch uses another permutation."""
    with tf.Graph().as_default():
        n, b = 40, 8
        ds = inputs.Dataset(images=tf.range(n), labels=tf.range(n), size=n, steps_per_epoch=n // b)
        step = tf.placeholder(tf.int64, [])
        idx, _ = inputs.batch(ds, step, b, seed=3)
        with tf.Session() as sess:
            epochs = [np.concatenate([sess.run(idx, {step: e * 5 + s}) for s in range(5)]) for e in range(2)]
            again = sess.run(idx, {step: 7})
    assert sorted(epochs[0]) == list(range(n)) and sorted(epochs[1]) == list(range(n))
    assert not np.array_equal(epochs[0], epochs[1])
    np.testing.assert_array_equal(again, epochs[1][16:24])  # a step's batch depends on the step alone


def test_conditional_fake_labels_cover_all_ten_digits():
    """The seed drew generator labels with randint(0, 9), which never yields 9."""
    graph, _, init, _ = build("gan_cdcgan")
    labels = graph.get_tensor_by_name("fake_labels:0")
    with graph.as_default():
        new_step = tf.placeholder(tf.int64, [])
        set_step = tf.train.get_global_step().assign(new_step)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        drawn = []
        for s in range(40):
            sess.run(set_step, {new_step: s})
            drawn.append(sess.run(labels))
    drawn = np.concatenate(drawn)
    assert drawn.dtype == np.int32 and drawn.min() == 0 and drawn.max() == 9
    counts = np.bincount(drawn, minlength=10)
    assert counts.min() > 0.5 * len(drawn) / 10  # roughly uniform over the ten digits


def _ancestors(op):
    """Every op `op` waits for: data inputs and control dependencies, transitively."""
    seen, pending = set(), [op]
    while pending:
        current = pending.pop()
        for parent in [t.op for t in current.inputs] + list(current.control_inputs):
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return seen


def test_g_is_judged_by_the_d_its_step_has_just_updated(built):
    """Every read of D's weights on the way to G's loss waits for the D update: the alternating
    D-then-G step. (Without the control dependency they could read the old D, and nothing else would
    notice: both orders train.)"""
    _, graph, model, *_ = built
    with graph.as_default():
        d_names = {v.op.name for v in ops.trainable_variables("discriminator")}
    assert d_names
    upstream_of_g_loss = _ancestors(model.metrics["g_loss"].op)
    d_reads = [op for op in upstream_of_g_loss if op.type == "ReadVariableOp" and op.inputs[0].op.name in d_names]
    d_reads_of_the_second_call = [op for op in d_reads if model.d_step in _ancestors(op)]
    assert d_reads_of_the_second_call, "G's loss reads D's weights before D's update"
    assert model.d_step in upstream_of_g_loss


def test_samples_come_from_the_weight_average_not_from_g(built):
    script, graph, model, init, _ = built
    with graph.as_default():
        live = ops.trainable_variables("generator")
        copies = [v for v in tf.global_variables() if v.name.startswith(ops.AVERAGE + "/")]
        assert {v.name for v in copies} >= {f"{ops.AVERAGE}/{v.name}" for v in live}
        assert not set(copies) & set(tf.trainable_variables()), "an optimizer could move the average"
        zero_live = [v.assign(tf.zeros_like(v)) for v in live]
        zero_copies = [v.assign(tf.zeros_like(v)) for v in copies if "weights" in v.name]
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        sess.run([model.train_op, model.refresh])
        before = sess.run(model.samples)
        sess.run(zero_live)
        np.testing.assert_array_equal(before, sess.run(model.samples))
        sess.run(zero_copies)
        assert not np.allclose(before, sess.run(model.samples))


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("decay", ["0.999", "0.2"])  # 0.2 caps the warm-up (1+t)/(10+t) from step 2 on
def test_weight_average_follows_g_with_the_warmed_up_decay(script, decay):
    graph, model, init, args = build(script, [*TINY[script], "--g-average", decay])
    with graph.as_default():
        live = ops.trainable_variables("generator")
        names = {v.name: v for v in tf.global_variables()}
        copies = [names[f"{ops.AVERAGE}/{v.name}"] for v in live]
        step = tf.train.get_global_step()
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(3):
            old = _values(sess, copies)
            sess.run(model.train_op)
            t = sess.run(step)
            keep = min(args.g_average, (1 + t) / (10 + t))
            for a, v, c in zip(old, _values(sess, live), _values(sess, copies), strict=True):
                np.testing.assert_allclose(c, keep * a + (1 - keep) * v, rtol=1e-5, atol=1e-6)
        assert not _all((_values(sess, live), _values(sess, copies)), same=True)


@pytest.mark.parametrize("script", ["gan_dcgan", "gan_cdcgan"])
def test_refresh_gives_the_average_the_batch_statistics_it_draws_with(script):
    """After `refresh`, inference mode on the measuring noise reproduces batch-statistics mode there
    (drawn at temperature 1, the noise the statistics are measured on)."""
    module = importlib.import_module(script)
    graph, model, init, args = build(script, [*TINY[script], "--z-temperature", "1"])
    with graph.as_default():
        seed = inputs.stream_seed(args.seed, inputs.Stream.BN_STATS, 0)
        labels = inputs.balanced_digits(gan.STATS_SAMPLES)
        measured = module.sample(args, gan.STATS_SAMPLES, seed, labels, training=False)
        batch_mode = module.sample(args, gan.STATS_SAMPLES, seed, labels, training=True)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(2):
            sess.run(model.train_op)
        stale = sess.run(measured)
        sess.run(model.refresh)
        wanted = sess.run(batch_mode)
        assert not np.allclose(stale, wanted, atol=1e-4)
        np.testing.assert_allclose(sess.run(measured), wanted, atol=1e-4)


def _noise(argv, count=2000, stddev=1.0):
    import gan_dcgan

    args = flags.parse("test", gan_dcgan.HPARAMS, argv)
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(gan_dcgan.noise(count, tf.constant([3, 4], tf.int64), args, stddev))


def test_dcgan_z_modes_shift_one_axis_each_and_leave_the_gaussian_draw_alone():
    plain = _noise(["--z-modes", "0"])
    mixed = _noise(["--z-modes", "10", "--z-mode-distance", "3"])
    shift = mixed - plain  # the same seed draws the same Gaussian part
    modes = shift.argmax(1)
    np.testing.assert_allclose(shift, 3.0 * np.eye(100)[modes], atol=1e-6)  # exactly one axis each, among the first ten
    assert set(modes) == set(range(10))
    assert np.bincount(modes, minlength=10).min() > 2000 / 10 * 0.75  # drawn uniformly


def test_dcgan_z_temperature_scales_the_gaussians_and_leaves_the_modes_where_they_are():
    mixed = ["--z-modes", "10", "--z-mode-distance", "3"]
    plain, modes = _noise(["--z-modes", "0"]), _noise(mixed) - _noise(["--z-modes", "0"])
    colder = _noise(mixed, stddev=0.5)
    np.testing.assert_allclose(colder - modes, 0.5 * plain, atol=1e-6)  # the same draw, each mode's centre kept


def test_dcgan_z_modes_beyond_z_dim_is_a_one_line_error(capsys):
    import gan_dcgan

    with pytest.raises(SystemExit) as e:
        flags.parse("test", gan_dcgan.HPARAMS, ["--z-modes", "20", "--z-dim", "16"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--z-modes 20 needs --z-dim ≥ 20" in err and "not 16" in err, err


def test_dcgan_measures_the_batch_statistics_at_temperature_1_and_draws_at_its_own():
    import gan_dcgan

    graph, model, init, args = build("gan_dcgan")
    colder = flags.parse("test", gan_dcgan.HPARAMS, [*TINY["gan_dcgan"], "--z-temperature", "0.5"])
    assert 0 < args.z_temperature < 1  # the default: a little colder than training
    with graph.as_default():
        seed = inputs.stream_seed(args.seed, inputs.Stream.BN_STATS, 0)
        draws = [gan_dcgan.sample(hp, 500, seed, None, training) for hp in (args, colder) for training in (True, False)]
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        sess.run(model.train_op)
        sess.run(model.refresh)
        measuring, drawn, measuring_cold, drawn_cold = sess.run(draws)
    np.testing.assert_array_equal(measuring, measuring_cold)  # the refresh's noise ignores the temperature
    assert not np.allclose(drawn, drawn_cold, atol=1e-3)
