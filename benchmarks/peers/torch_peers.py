"""Our three GANs as a PyTorch engineer would write them: `nn.Module`s and an eager training step, the
other yardstick for our TF1 graphs (optionally in channels-last memory, which oneDNN's convolutions
prefer on a CPU).

    python -m benchmarks.peers.torch_peers --model dcgan --batch 128 --steps 32 --warmup 3 --repeats 3 [--channels-last] [--threads N]

prints one JSON line (benchmarks/peers/harness.py). The step does what ours does: `fake = G(z)` once
(batch norm in training mode); D is updated on a real batch and on `fake.detach()`, each through D on its
own; G is updated through the freshly updated D on the same `fake`, with D's parameters frozen for that
backward pass (G needs D's input gradients only; ours computes no more either); then the average of G's
weights moves (`torch._foreach_lerp_`). Adam is the fused one (one kernel for all of a network's
parameters, as TensorFlow applies Adam in one op a variable). Data: MNIST-sized random images in a tensor
on the device, a batch sliced from it per step; the noise is drawn in the step.

Threads: every logical core (`torch.set_num_threads(os.cpu_count())`), what TensorFlow's pools take when
ours runs at its defaults (PyTorch's own default is the physical cores), unless `--threads` sets them as
bench.py's `--intra-op-threads` sets ours. And they sleep when they wait (OMP_WAIT_POLICY=PASSIVE, unless
the environment sets it), as TensorFlow's pools do after a short spin: with OpenMP's spinning, PyTorch's
default, a DCGAN step ran 10–15× slower on two cores while another process held one of them, which says
nothing about the networks.

Padding: PyTorch has no asymmetric padding in its layers. A 5×5 stride-2 convolution under TensorFlow's
SAME pads 1 before and 2 after; here `padding=2` pads 2 on both sides (28 → 14 → 7, as ours), and the
transposed ones take `padding=2, output_padding=1` (7 → 14 → 28). The maps have our shapes and the same
number of taps on real input (so the same FLOPs); each kernel sits one pixel from where TensorFlow puts it,
a mirror image that networks trained from scratch do not notice. D's batch norm keeps no running
statistics (`track_running_stats=False`): D never runs in inference mode, and ours keeps none either.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read once, when torch loads its OpenMP (see Threads)

import itertools  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.peers import harness  # noqa: E402

CLASSES = 10
MNIST_IMAGES = 60000
EPSILON = 1e-3  # batch norm's, as ours (common/ops.py)
ADAM_EPSILON = 1e-8  # TensorFlow 1's AdamOptimizer's, and PyTorch's default


def _g_batch_norm(hp, features, dims=2):
    """G's: PyTorch's momentum is the weight of the new batch, TensorFlow's that of the old average."""
    return (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(features, eps=EPSILON, momentum=1 - hp.bn_momentum)


def _d_batch_norm(features):
    return nn.BatchNorm2d(features, eps=EPSILON, track_running_stats=False)


def _up(in_channels, out_channels, kernel, stride, bias=False):
    """A transposed convolution with TensorFlow's SAME output size (odd kernels): in × stride."""
    return nn.ConvTranspose2d(in_channels, out_channels, kernel, stride, kernel // 2, output_padding=stride - 1, bias=bias)


def _down(in_channels, out_channels, kernel, stride, bias=True):
    """A convolution with TensorFlow's SAME output size (odd kernels): in / stride."""
    return nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=bias)


def _initialize(net, init):
    """Weights as ours start: `init` on every dense and convolution weight, zero biases; a conditional
    batch norm's scales at 1 and shifts at 0, as a plain one's."""
    for module in net.modules():
        if isinstance(module, ConditionalBatchNorm):
            nn.init.ones_(module.gamma.weight)
            nn.init.zeros_(module.beta.weight)
        elif isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            init(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return net


def _normal(hp):
    """N(0, INIT_STDDEV), the DCGAN paper's, as the convolutional scripts'."""
    return lambda weight: nn.init.normal_(weight, std=hp.init_stddev)


class MinibatchDiscrimination(nn.Module):
    """The features and, for each of `kernels` learned projections to 5 numbers, Σ_j≠i exp(−‖m_i − m_j‖²)
    over the batch (gan_fc.py's MINIBATCH_KERNELS, common/ops.py's minibatch_closeness)."""

    def __init__(self, features, kernels, dims=5):
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.projection = nn.Linear(features, kernels * dims, bias=False)  # a Linear, so that it is counted

    def forward(self, x):
        m = self.projection(x).view(-1, self.kernels, self.dims).transpose(0, 1)  # [kernels, batch, dims]
        squares = m.square().sum(2, keepdim=True)
        distance = squares + squares.transpose(1, 2) - 2.0 * m @ m.transpose(1, 2)
        return torch.cat([x, (torch.exp(-distance).sum(2) - 1.0).t()], 1)


def fc(hp):
    """G: z → 2 × (dense, no bias, batch norm, ReLU) → dense 784 tanh; D: 784 → 2 × (dense, lrelu 0.2)
    [→ minibatch discrimination] → 1. Glorot-uniform weights, as ours (TensorFlow's default)."""
    h = hp.g_hidden

    def hidden(inputs):
        return [nn.Linear(inputs, h, bias=False), _g_batch_norm(hp, h, dims=1), nn.ReLU()]

    g = nn.Sequential(*hidden(hp.z_dim), *hidden(h), nn.Linear(h, 28 * 28), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    h = hp.d_hidden
    kernels = getattr(hp, "minibatch_kernels", 0)
    batch = [MinibatchDiscrimination(h, kernels)] if kernels else []
    d = nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, h),
        nn.LeakyReLU(0.2),
        nn.Linear(h, h),
        nn.LeakyReLU(0.2),
        *batch,
        nn.Linear(h + kernels, 1),
    )
    _initialize(d, nn.init.xavier_uniform_)
    for layer in batch:
        nn.init.normal_(layer.projection.weight, std=0.05)  # ours (common/ops.py)
    return _initialize(g, nn.init.xavier_uniform_), d


def dcgan(hp):
    """gan_dcgan.py's networks (its comment block draws them)."""
    f, k, slope = hp.g_filters, hp.g_kernel, hp.leaky_slope
    layers, channels = [nn.Linear(hp.z_dim, 7 * 7 * 4 * f, bias=False), _g_batch_norm(hp, 7 * 7 * 4 * f, dims=1)], 4 * f
    layers += [nn.LeakyReLU(slope), nn.Unflatten(1, (4 * f, 7, 7))]
    for _ in range(hp.g_7x7_layers):
        layers += [_up(channels, 2 * f, hp.g_7x7_kernel, 1), _g_batch_norm(hp, 2 * f), nn.LeakyReLU(slope)]
        channels = 2 * f
    layers += [_up(channels, f, k, 2), _g_batch_norm(hp, f), nn.LeakyReLU(slope), _up(f, 1, k, 2), nn.Tanh()]
    g = nn.Sequential(*layers)

    f, k = hp.d_filters, hp.d_kernel
    layers = [_down(1, f, k, 2), nn.LeakyReLU(slope)]  # no batch norm on D's input layer
    layers += [_down(f, 2 * f, k, 2, bias=False), _d_batch_norm(2 * f), nn.LeakyReLU(slope)]
    for _ in range(hp.d_7x7_layers):
        layers += [_down(2 * f, 2 * f, 3, 1, bias=False), _d_batch_norm(2 * f), nn.LeakyReLU(slope)]
    d = nn.Sequential(*layers, nn.Flatten(), nn.Linear(7 * 7 * 2 * f, 1))
    return _initialize(g, _normal(hp)), _initialize(d, _normal(hp))


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift are the label's own (G_CONDITIONAL_BN): bias-free dense layers on
    the one-hot label, as ours computes them (an embedding would be the same weights, not the same FLOPs)."""

    def __init__(self, hp, features):
        super().__init__()
        self.norm = nn.BatchNorm2d(features, eps=EPSILON, momentum=1 - hp.bn_momentum, affine=False)
        self.gamma, self.beta = nn.Linear(CLASSES, features, bias=False), nn.Linear(CLASSES, features, bias=False)

    def forward(self, h, y):
        return self.norm(h) * self.gamma(y)[:, :, None, None] + self.beta(y)[:, :, None, None]


class ConditionalGenerator(nn.Module):
    """gan_cdcgan.py's G: [z, one-hot label] as a 1×1 map, a 7×7 VALID transposed convolution, then as
    the DCGAN's; with G_CONDITIONAL_BN each batch norm also reads the label."""

    def __init__(self, hp):
        super().__init__()
        f, self.conditional_bn = hp.g_filters, hp.g_conditional_bn
        norm = (lambda n: ConditionalBatchNorm(hp, n)) if self.conditional_bn else (lambda n: _g_batch_norm(hp, n))
        self.convolutions = nn.ModuleList([nn.ConvTranspose2d(hp.z_dim + CLASSES, 2 * f, 7)])
        self.convolutions.extend(_up(2 * f, 2 * f, 3, 1) for _ in range(hp.g_7x7_layers))
        self.convolutions.append(_up(2 * f, f, 5, 2, bias=True))
        self.norms = nn.ModuleList(norm(c.out_channels) for c in self.convolutions)
        self.out = _up(f, 1, 5, 2, bias=True)

    def forward(self, z, labels):
        y = F.one_hot(labels, CLASSES).to(z.dtype)
        h = torch.cat([z, y], 1)[:, :, None, None]
        for convolution, norm in zip(self.convolutions, self.norms, strict=True):
            h = convolution(h)
            h = F.leaky_relu(norm(h, y) if self.conditional_bn else norm(h), 0.2)
        return torch.tanh(self.out(h))


class ProjectionDiscriminator(nn.Module):
    """gan_cdcgan.py's D: a plain logit (a 7×7 VALID convolution) plus the label's projection of the
    same features. The projection is a bias-free dense layer on the one-hot label, as ours (an
    `nn.Embedding` would be the same weights without the matmul, but not the same FLOPs). With
    CLASS_LOSS, D also returns the auxiliary classifier's ten logits, a dense layer on the same features."""

    def __init__(self, hp):
        super().__init__()
        f = hp.d_filters
        layers = [_down(1, f, 5, 2), nn.LeakyReLU(0.2), _down(f, 2 * f, 5, 2), _d_batch_norm(2 * f), nn.LeakyReLU(0.2)]
        for _ in range(hp.d_7x7_layers):
            layers += [_down(2 * f, 2 * f, 3, 1, bias=False), _d_batch_norm(2 * f), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.logit = nn.Conv2d(2 * f, 1, 7)
        self.projection = nn.Linear(CLASSES, 7 * 7 * 2 * f, bias=False)
        self.classifier = nn.Linear(7 * 7 * 2 * f, CLASSES) if hp.class_loss else None

    def forward(self, images, labels):
        h = self.features(images)
        y = F.one_hot(labels, CLASSES).to(h.dtype)
        logit = self.logit(h).flatten(1) + (h.flatten(1) * self.projection(y)).sum(1, keepdim=True)
        return logit if self.classifier is None else (logit, self.classifier(h.flatten(1)))


def cdcgan(hp):
    return _initialize(ConditionalGenerator(hp), _normal(hp)), _initialize(ProjectionDiscriminator(hp), _normal(hp))


NETWORKS = {"fc": fc, "dcgan": dcgan, "cdcgan": cdcgan}


def forward_flops(net, *inputs):
    """FLOPs of one image through `net`'s dense layers and convolutions (run once on `inputs`, one
    image, in inference mode, to see each layer's map sizes), by the rule of harness.conv_flops, each
    convolution with the padding PyTorch gives it: a transposed one is the convolution from its
    output to its input."""
    total = 0

    def count(module, args, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features
            return
        small, large = output.shape[-1], args[0].shape[-1]
        if isinstance(module, nn.ConvTranspose2d):
            small, large = large, small
        kernel, stride, pad = module.kernel_size[0], module.stride[0], module.padding[0]
        total += harness.conv_flops(large, small, kernel, stride, pad, module.in_channels, module.out_channels)

    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    hooks = [layer.register_forward_hook(count) for layer in layers]
    net.eval()  # batch norm on one image, and no running statistics moved by the counting
    with torch.no_grad():
        net(*inputs)
    net.train()
    for hook in hooks:
        hook.remove()
    return total


class TorchGAN:
    """The networks, their optimizers, the average of G's weights, and the data, all on `device` with
    the targets of the losses, so that a step allocates nothing it could have kept."""

    def __init__(self, model, hp, channels_last, device):
        self.hp, self.conditional, self.batch, self.device = hp, model == "cdcgan", hp.batch_size, device
        self.g, self.d = (net.to(device) for net in NETWORKS[model](hp))
        self.memory = torch.channels_last if channels_last else torch.contiguous_format
        self.g.to(memory_format=self.memory)
        self.d.to(memory_format=self.memory)
        g_lr, d_lr, beta1, beta2 = harness.adam_settings(hp)
        self.g_opt = torch.optim.Adam(self.g.parameters(), g_lr, betas=(beta1, beta2), eps=ADAM_EPSILON, fused=True)
        self.d_opt = torch.optim.Adam(self.d.parameters(), d_lr, betas=(beta1, beta2), eps=ADAM_EPSILON, fused=True)
        self.g_params = list(self.g.parameters())
        self.average = [p.detach().clone() for p in self.g_params]
        self.images = (torch.rand(MNIST_IMAGES, 1, 28, 28, device=device) * 2 - 1).to(memory_format=self.memory)
        self.labels = torch.randint(CLASSES, (MNIST_IMAGES,), device=device)
        self.ones, self.zeros = torch.ones(self.batch, 1, device=device), torch.zeros(self.batch, 1, device=device)
        self.batches, self.losses, self.updates = itertools.cycle(range(MNIST_IMAGES // self.batch)), None, 0

    def _noise(self):
        """z as the script draws it: N(0, I), with Z_MODES shifted Z_MODE_DISTANCE along a random axis
        of the first Z_MODES; the cDCGAN's fakes also get a random digit each."""
        z = torch.randn(self.batch, self.hp.z_dim, device=self.device)
        if getattr(self.hp, "z_modes", 0):
            mode = torch.randint(self.hp.z_modes, (self.batch,), device=self.device)
            z += self.hp.z_mode_distance * F.one_hot(mode, self.hp.z_dim)
        if not self.conditional:
            return (z,)
        labels = torch.randint(CLASSES, (self.batch,), device=self.device)
        if getattr(self.hp, "mode_seeking", 0):  # fake i and fake i + B/2 are the same digit, as the script pairs them
            pairs = self.batch // 2
            labels = torch.cat([labels[:pairs], labels[: self.batch - pairs]])
        return (z, labels)

    def step(self, index):
        rows = slice(index * self.batch, (index + 1) * self.batch)
        real = (self.images[rows], self.labels[rows]) if self.conditional else (self.images[rows],)
        noise = self._noise()
        fake = self.g(*noise)
        class_loss = getattr(self.hp, "class_loss", 0)
        d_real, real_classes = self._judge(*real)
        d_loss = F.binary_cross_entropy_with_logits(d_real, self.ones) + F.binary_cross_entropy_with_logits(
            self._judge(fake.detach(), *noise[1:])[0], self.zeros
        )
        if class_loss:  # the classifier learns the real digits only, as the script's
            d_loss = d_loss + class_loss * F.cross_entropy(real_classes, real[1])
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()

        self.d.requires_grad_(False)
        d_fake, fake_classes = self._judge(fake, *noise[1:])
        g_loss = F.binary_cross_entropy_with_logits(d_fake, self.ones)
        if class_loss:
            g_loss = g_loss + class_loss * F.cross_entropy(fake_classes, noise[1])
        if getattr(self.hp, "mode_seeking", 0):
            g_loss = g_loss + self.hp.mode_seeking * harness.mode_seeking_penalty(fake, noise[0], self.batch // 2, torch)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        self.d.requires_grad_(True)

        self.updates += 1
        forget = 1.0 - min(self.hp.g_average, (1.0 + self.updates) / (10.0 + self.updates))
        with torch.no_grad():
            torch._foreach_lerp_(self.average, self.g_params, forget)
        return d_loss.detach(), g_loss.detach()

    def _judge(self, *inputs):
        """(D's logit, the classifier's ten logits or None without CLASS_LOSS)."""
        out = self.d(*inputs)
        return out if getattr(self.hp, "class_loss", 0) else (out, None)

    def run(self):
        self.losses = self.step(next(self.batches))

    def finish(self):
        return [float(loss) for loss in self.losses]

    def sizes(self):
        """G's and D's parameters (batch norm's running statistics are buffers, not parameters) and
        forward FLOPs per image."""
        noise = tuple(part[:1] for part in self._noise())
        images = torch.zeros(1, 1, 28, 28, device=self.device).to(memory_format=self.memory)
        params = {"g": sum(p.numel() for p in self.g.parameters()), "d": sum(p.numel() for p in self.d.parameters())}
        flops = {"g": forward_flops(self.g, *noise), "d": forward_flops(self.d, images, *noise[1:])}
        return {"params": params, "flops_per_image": flops}


def main(argv=None):
    parser = harness.parser(__doc__, "PyTorch's intra-op threads (0: every logical core)")
    parser.add_argument("--channels-last", action="store_true", help="models and images in channels-last memory")
    args = parser.parse_args(argv)
    hp = harness.hyperparameters(args.model, args.batch)
    torch.set_num_threads(args.threads or harness.default_threads())
    torch.manual_seed(hp.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gan = TorchGAN(args.model, hp, args.channels_last, device)
    walls = harness.time_steps(gan.run, gan.finish, args.steps, args.warmup, args.repeats)
    return harness.report_line(
        args,
        hp.batch_size,
        walls,
        gan.sizes(),
        framework="pytorch",
        variant="channels_last" if args.channels_last else "eager",
        threads=torch.get_num_threads(),
        omp_wait_policy=os.environ["OMP_WAIT_POLICY"],
        device=device,
        versions={"torch": torch.__version__},
    )


if __name__ == "__main__":
    main()
